# What lab 02 builds. Source paths are relative to the folder being built:
# the lab folder for your code, solution/ for the reference.
LAB_TITLE := UDP echo server and a client that survives loss

# The files students edit (and submit); the reference has the same names.
STUDENT_FILES := udp_proto.c udp_server.c udp_client.c

# net.c is the provided library in labs/common (net.h).
COMMON_SRCS := net.c

PROGRAMS := udp_server udp_client
udp_server_SRCS := udp_server.c udp_proto.c
udp_client_SRCS := udp_client.c udp_proto.c

# Unit tests: tests/NAME.c linked with the listed sources under test.
UNIT_TESTS := test_udp_proto
test_udp_proto_SRCS := udp_proto.c
