# What lab 05 builds. Source paths are relative to the folder being built:
# the lab folder for your code, solution/ for the reference.
LAB_TITLE := HTTP/1.1 static-file server and client

# The files students edit (and submit); the reference has the same names.
STUDENT_FILES := http_parse.c http_path.c http_server.c http_get.c

PROGRAMS := http_server http_get
COMMON_SRCS := net.c
http_server_SRCS := http_server.c http_parse.c http_path.c
http_get_SRCS := http_get.c http_parse.c

# Unit tests: tests/NAME.c linked with the listed sources under test.
UNIT_TESTS := test_http_parse test_http_path
test_http_parse_SRCS := http_parse.c
test_http_path_SRCS := http_path.c
