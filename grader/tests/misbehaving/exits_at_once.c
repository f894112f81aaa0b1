/* Exits with status 0 before doing anything. */
int main(void)
{
	return 0;
}
