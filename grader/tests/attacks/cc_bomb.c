/*
 * A compiler bomb: the file includes itself twice at every level, so the
 * preprocessor has 2^200 files to read (GCC stops nesting at depth 200),
 * and the compiler runs as long as it is let. Never builds.
 */
#include __FILE__
#include __FILE__
