#include "app/fulfilment_schema.h"

namespace sluice::app {

std::string_view FulfilmentSchemaJson() {
  static constexpr std::string_view kSchema = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://sluice.example/schemas/fulfilment-value.json",
  "title": "Fulfilment event",
  "description": "Operational and financial events of the fulfilment operation.",
  "type": "object",
  "required": ["event_id", "event_type", "occurred_at", "warehouse_id", "order_id"],
  "properties": {
    "event_id": {"type": "string", "minLength": 1, "maxLength": 128},
    "event_type": {
      "enum": ["order.received", "order.allocated", "pick.started", "pick.completed",
               "pack.completed", "shipment.dispatched", "shipment.delivered",
               "fulfilment.exception", "payment.captured", "refund.issued", "carrier.charge"]
    },
    "schema_version": {"type": "integer", "minimum": 1},
    "occurred_at": {"type": "string", "format": "date-time"},
    "warehouse_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "order_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "source": {
      "type": "object",
      "required": ["service"],
      "properties": {
        "service": {"type": "string", "minLength": 1},
        "instance": {"type": "string"},
        "region": {"type": "string"},
        "version": {"type": "string"}
      }
    },
    "trace_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    "span_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
    "amount_minor": {"type": "integer"},
    "currency": {"$ref": "#/$defs/currency"},
    "lines": {"type": "array", "maxItems": 500, "items": {"$ref": "#/$defs/line"}},
    "exception_code": {"type": "string", "pattern": "^[A-Z][A-Z_]*$"},
    "severity": {"enum": ["low", "medium", "high", "critical"]},
    "requires_action": {"type": "boolean"},
    "metadata": {
      "type": "object",
      "properties": {"tags": {"type": "array", "items": {"type": "string"}}}
    },
    "notes": {"type": "string", "maxLength": 4000},
    "history": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["at", "action"],
        "properties": {
          "at": {"type": "string", "format": "date-time"},
          "actor": {"type": "string"},
          "action": {"type": "string"},
          "ref": {"type": "string"}
        }
      }
    }
  },
  "allOf": [
    {
      "if": {
        "required": ["event_type"],
        "properties": {"event_type": {"enum": ["payment.captured", "refund.issued", "carrier.charge"]}}
      },
      "then": {"required": ["amount_minor", "currency"]}
    },
    {
      "if": {
        "required": ["event_type"],
        "properties": {"event_type": {"const": "fulfilment.exception"}}
      },
      "then": {"required": ["exception_code", "severity"]}
    }
  ],
  "$defs": {
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "line": {
      "type": "object",
      "required": ["sku", "quantity"],
      "properties": {
        "line_no": {"type": "integer", "minimum": 1},
        "sku": {"type": "string", "minLength": 1},
        "quantity": {"type": "integer", "minimum": 1},
        "unit_price_minor": {"type": "integer", "minimum": 0},
        "refund_minor": {"type": "integer", "minimum": 0},
        "weight_g": {"type": "integer", "minimum": 0}
      }
    }
  }
})json";
  return kSchema;
}

}  // namespace sluice::app
