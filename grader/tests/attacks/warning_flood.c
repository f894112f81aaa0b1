/*
 * An echo_server.c that asks the compiler for 4^8 warnings: each
 * expansion of W1 is one, and a few more levels would be millions. The
 * grader reads the build's messages; it must neither keep them all nor
 * let the build print on.
 */
#define W1 _Pragma("GCC warning \"one of very many warnings\"")
#define W2 W1 W1 W1 W1
#define W3 W2 W2 W2 W2
#define W4 W3 W3 W3 W3
#define W5 W4 W4 W4 W4
#define W6 W5 W5 W5 W5
#define W7 W6 W6 W6 W6
#define W8 W7 W7 W7 W7
#define W9 W8 W8 W8 W8
W9

int main(void)
{
	return 0;
}
