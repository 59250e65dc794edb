/*
 * TEMPORARY (issue 14 work in progress): stubs so that main links while
 * the parts of the waitset are written on their branches. Whoever
 * implements a group DELETES that group here in the same commit (a
 * "multiple definition" link error means: delete the group). The lead
 * deletes this file at the final merge.
 */
#include "internal.h"
