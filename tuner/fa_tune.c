#include <stdio.h>
int main(void) { puts("fa-tune: stub"); return 0; }
