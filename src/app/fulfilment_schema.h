// The JSON Schema of the embedded default stream `fulfilment`, registered at start under the
// subject `fulfilment-value` (if that subject has no versions yet), so the default stream
// validates from the first event.
#pragma once

#include <string_view>

namespace sluice::app {

inline constexpr std::string_view kFulfilmentSubject = "fulfilment-value";

// Draft 2020-12. Every event: event_id, event_type (one of the eleven lifecycle and financial
// types), occurred_at (RFC 3339), warehouse_id, order_id. Financial types (payment.captured,
// refund.issued, carrier.charge) also need amount_minor (an integer, minor units) and
// currency (three capital letters); fulfilment.exception needs exception_code and severity.
// The content model is open (unknown properties are allowed) so producers can add fields
// before the schema learns them, and BACKWARD evolution stays easy.
std::string_view FulfilmentSchemaJson();

}  // namespace sluice::app
