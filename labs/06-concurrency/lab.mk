# What lab 06 builds. Source paths are relative to the folder being built:
# the lab folder for your code, solution/ for the reference.
LAB_TITLE := concurrent servers: processes, threads and an event loop

# The files students edit (and submit); the reference has the same names.
STUDENT_FILES := serve_fork.c serve_thread.c serve_epoll.c

PROGRAMS := conc_server
COMMON_SRCS := net.c
conc_server_SRCS := serve_fork.c serve_thread.c serve_epoll.c
# Provided complete: main (options, listening socket, stop signals) and
# the request handler, which reuses lab 05's parser (see BORROWED_SRCS).
conc_server_PROVIDED_SRCS := conc_server.c http_session.c
conc_server_BORROWED_SRCS := http_parse.c http_path.c
conc_server_LDLIBS := -pthread

# Lab 05's reference parser and path helpers, given to everyone once
# lab 05 is due (course.toml): built from labs/05-http-server here, and
# from this folder's borrowed/ copy in a handout.
BORROWED_FROM := 05-http-server

# Unit tests: tests/NAME.c linked with the listed sources under test.
UNIT_TESTS := test_http_session
test_http_session_PROVIDED_SRCS := http_session.c
test_http_session_BORROWED_SRCS := http_parse.c http_path.c
