# What lab 04 builds. Source paths are relative to the folder being built:
# the lab folder for your code, solution/ for the reference.
LAB_TITLE := sticky packets and message framing

# The files students edit (and submit); the reference has the same names.
STUDENT_FILES := frame.c frame_server.c frame_client.c

PROGRAMS := frame_server frame_client naive_server
COMMON_SRCS := net.c
frame_server_SRCS := frame_server.c frame.c
frame_client_SRCS := frame_client.c frame.c
# Provided complete, so built from the lab folder whichever code is built:
# the server that treats each recv() as one message (step 1 of the handout).
naive_server_PROVIDED_SRCS := naive_server.c

# Unit tests: tests/NAME.c linked with the listed sources under test.
UNIT_TESTS := test_frame
test_frame_SRCS := frame.c
