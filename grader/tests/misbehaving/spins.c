/* Burns CPU forever without announcing. */
int main(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
}
