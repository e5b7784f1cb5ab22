/* count.h - the number of elements of an array (not a pointer). */
#ifndef ORDERLY_COUNT_H
#define ORDERLY_COUNT_H

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
