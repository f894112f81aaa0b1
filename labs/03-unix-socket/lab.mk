# What lab 03 builds. Source paths are relative to the folder being built:
# the lab folder for your code, solution/ for the reference.
LAB_TITLE := Unix-domain sockets

# The files students edit (and submit); the reference has the same names.
STUDENT_FILES := unix_proto.c unix_server.c unix_client.c

PROGRAMS := unix_server unix_client
unix_server_SRCS := unix_server.c unix_proto.c
unix_client_SRCS := unix_client.c unix_proto.c
# The provided helpers of labs/common (net.h): net_send_all, net_listen, ...
COMMON_SRCS := net.c

# Unit tests: tests/NAME.c linked with the listed sources under test.
UNIT_TESTS := test_unix_proto
test_unix_proto_SRCS := unix_proto.c
