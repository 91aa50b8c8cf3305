/* visft command-line entry point; everything else lives in libvisft (cli.c, commands.c, cmd_*.c). */
#include <stdio.h>

#include "cli/cli.h"

int main(int argc, char **argv) { return vt_cli_main(argc, argv, stdout, stderr); }
