# What lab 01 builds. Source paths are relative to the folder being built:
# the lab folder for your code, solution/ for the reference.
LAB_TITLE := TCP echo server and client

# The files students edit (and submit); the reference has the same names.
STUDENT_FILES := echo_util.c echo_server.c echo_client.c

PROGRAMS := echo_server echo_client
echo_server_SRCS := echo_server.c echo_util.c
echo_client_SRCS := echo_client.c echo_util.c

# Unit tests: tests/NAME.c linked with the listed sources under test.
UNIT_TESTS := test_echo_util
test_echo_util_SRCS := echo_util.c
# send() is replaced by the test's __wrap_send to fake short sends and EINTR.
test_echo_util_LDFLAGS := -Wl,--wrap=send
