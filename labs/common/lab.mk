# The provided library's own unit tests (labs/common is not a lab: it has
# no programs; make test builds and runs these tests).
LAB_TITLE := provided helpers (labs/common)
PROGRAMS :=
UNIT_TESTS := test_net
test_net_SRCS := net.c
test_net_LDFLAGS := -Wl,--wrap=send
