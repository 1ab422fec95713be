// The Confluent Schema Registry REST API over schema::Registry, served below /registry so that
// Confluent's clients work unchanged with base URL http://host:8080/registry. Transport-neutral:
// the HTTP server hands over the parsed request and sends back what this returns.
//
// What callers may rely on:
// - Every answer is JSON with Content-Type application/vnd.schemaregistry.v1+json; errors are
//   Confluent's {"error_code":N,"message":"..."} with HTTP status N/100 (409 stays 409), e.g.
//   404 + 40401 for an unknown subject, 422 + 42201 for an invalid schema, 400 + 400 for a body
//   that is not JSON, 404/405 + 404/405 for unknown paths and methods.
// - Mutations are answered after they are durable (the call blocks the calling thread for the
//   registry log's fsync; registry writes are rare administrative calls).
// - Endpoints and the differences from Confluent are listed in docs/schema-registry.md.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace sluice::schema {
class Registry;
}

namespace sluice::server {

inline constexpr std::string_view kSchemaRegistryContentType =
    "application/vnd.schemaregistry.v1+json";

struct RegistryHttpResponse {
  int status = 200;
  std::string content_type = std::string(kSchemaRegistryContentType);
  std::string body;
};

// `path` holds the percent-decoded segments after "/registry" (e.g. {"subjects", "orders-value",
// "versions"}), `query` the raw query string without '?'. A null `registry` answers 404.
RegistryHttpResponse HandleRegistryRequest(schema::Registry* registry, std::string_view method,
                                           std::span<const std::string> path,
                                           std::string_view query, std::string_view body);

}  // namespace sluice::server
