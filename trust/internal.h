/* trust/internal.h: declarations shared by the files of trust/. */
#ifndef ZTCA_TRUST_INTERNAL_H
#define ZTCA_TRUST_INTERNAL_H

#include "trust/trust.h"

#endif /* ZTCA_TRUST_INTERNAL_H */
