/* The public header lives in include/wause.h; this C target only makes it visible to Swift. */
#include "wause.h"
