/* certledger/certledger.h - the whole public C API of certledger. */
#ifndef CERTLEDGER_H
#define CERTLEDGER_H

#include "certledger/error.h"
#include "certledger/ledger.h"
#include "certledger/accounts.h"
#include "certledger/admins.h"
#include "certledger/text.h"
#include "certledger/certs.h"
#include "certledger/import.h"
#include "certledger/projections.h"
#include "certledger/export.h"
#include "certledger/webhooks.h"

#define CERTLEDGER_VERSION "0.1.0"

#endif
