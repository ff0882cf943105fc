#include "../common/runtime.h"

int main(void) {
    uart_puts("Hello from warmboot guest\n");
    return 0;
}
