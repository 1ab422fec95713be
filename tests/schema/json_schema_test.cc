#include "schema/json_schema.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

// Counts heap allocations so that a test can check that a warm validator does not allocate.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

namespace sluice::schema {
namespace {

// A record followed by simdjson's padding, as the validator requires.
std::string Padded(std::string_view text) {
  std::string s(text);
  s.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  return s;
}

std::string CompileError(std::string_view schema) {
  auto compiled = CompileJsonSchema(schema);
  return compiled.ok() ? "compiled" : compiled.status().message();
}

// "ok", or the validation error message.
std::string Check(std::string_view schema, std::string_view event) {
  auto compiled = CompileJsonSchema(schema);
  if (!compiled.ok()) return "compile error: " + compiled.status().message();
  JsonSchemaValidator validator(compiled.value());
  Status st = validator.Validate(Padded(event));
  return st.ok() ? "ok" : st.message();
}

TEST(JsonSchemaTypes, IntegerIsAnyNumberWithoutFraction) {
  const char* s = R"({"type":"integer"})";
  EXPECT_EQ(Check(s, "1"), "ok");
  EXPECT_EQ(Check(s, "1.0"), "ok");
  EXPECT_EQ(Check(s, "-0"), "ok");
  EXPECT_EQ(Check(s, "1e308"), "ok");
  EXPECT_EQ(Check(s, "12345678901234567890"), "ok");
  EXPECT_EQ(Check(s, "12.5"), "/: 12.5 is not of type integer");
  EXPECT_EQ(Check(s, R"({"a":1})"), "/: an object is not of type integer");
  EXPECT_EQ(Check(R"({"type":"number"})", "2"), "ok");
}

TEST(JsonSchemaTypes, TypeArraysAndMessages) {
  const char* s = R"({"type":["string","null"]})";
  EXPECT_EQ(Check(s, "null"), "ok");
  EXPECT_EQ(Check(s, R"("x")"), "ok");
  EXPECT_EQ(Check(s, "true"), "/: true is not of type null or string");
  EXPECT_EQ(Check(R"({"type":["integer","boolean","array"]})", "[]"), "ok");
  EXPECT_EQ(Check(R"({"type":["integer","boolean","array"]})", "{}"),
            "/: an object is not of type one of boolean, array, integer");
}

TEST(JsonSchemaKeywords, NumberBounds) {
  const char* s =
      R"({"properties":{"a":{"minimum":1,"maximum":10},"b":{"exclusiveMinimum":0,"exclusiveMaximum":1}}})";
  EXPECT_EQ(Check(s, R"({"a":1,"b":0.5})"), "ok");
  EXPECT_EQ(Check(s, R"({"a":10.0})"), "ok");
  EXPECT_EQ(Check(s, R"({"a":0})"), "/a: 0 is less than minimum 1");
  EXPECT_EQ(Check(s, R"({"a":1e1})"), "ok");
  EXPECT_EQ(Check(s, R"({"a":10.5})"), "/a: 10.5 is greater than maximum 10");
  EXPECT_EQ(Check(s, R"({"b":0})"), "/b: 0 is not greater than exclusiveMinimum 0");
  EXPECT_EQ(Check(s, R"({"b":1})"), "/b: 1 is not less than exclusiveMaximum 1");
  EXPECT_EQ(Check(s, R"({"a":"5"})"), "ok");  // bounds apply to numbers only
}

TEST(JsonSchemaKeywords, MultipleOfFollowsJavaScriptDivision) {
  const char* s = R"({"multipleOf":0.01})";
  EXPECT_EQ(Check(s, "12.5"), "ok");
  // 19.99 / 0.01 is 1998.9999999999998 in doubles: ajv rejects it, so do we.
  EXPECT_EQ(Check(s, "19.99"), "/: 19.99 is not a multiple of 0.01");
  EXPECT_EQ(Check(R"({"multipleOf":3})", "9.0"), "ok");
  EXPECT_EQ(Check(R"({"multipleOf":3})", "10"), "/: 10 is not a multiple of 3");
  EXPECT_EQ(Check(R"({"multipleOf":7})", "7e21"), "/: 7e21 is not a multiple of 7");
  EXPECT_EQ(CompileError(R"({"multipleOf":0})"),
            "invalid schema at /: 'multipleOf' must be greater than 0");
}

TEST(JsonSchemaKeywords, StringLengthCountsCodePoints) {
  const char* s = R"({"minLength":2,"maxLength":3})";
  EXPECT_EQ(Check(s, R"("ab")"), "ok");
  EXPECT_EQ(Check(s, "\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\""), "ok");  // 3 emoji
  EXPECT_EQ(Check(s, R"("\ud83d\ude00")"),
            "/: \"\xF0\x9F\x98\x80\" has 1 characters, fewer than minLength 2");
  EXPECT_EQ(Check(s, R"("abcd")"), "/: \"abcd\" has 4 characters, more than maxLength 3");
  EXPECT_EQ(Check(R"({"maxLength":0})", R"("")"), "ok");
}

TEST(JsonSchemaKeywords, PatternIsAnUnanchoredEcmaScriptSearch) {
  const char* s = R"({"properties":{"currency":{"pattern":"^[A-Z]{3}$"},"c":{"pattern":"b"}}})";
  EXPECT_EQ(Check(s, R"({"currency":"EUR","c":"abc"})"), "ok");
  EXPECT_EQ(Check(s, R"({"currency":"EURO"})"),
            "/currency: \"EURO\" does not match pattern ^[A-Z]{3}$");
  EXPECT_EQ(Check(s, R"({"currency":"EUR\n"})"),
            "/currency: \"EUR\\u000a\" does not match pattern ^[A-Z]{3}$");
  // ECMAScript: '.' excludes line terminators, \s includes U+00A0 and U+FEFF.
  EXPECT_EQ(Check(R"({"pattern":"^.$"})", R"("\u2028")"),
            "/: \"\xE2\x80\xA8\" does not match pattern ^.$");
  EXPECT_EQ(Check(R"({"pattern":"^\\s$"})", R"("\u00a0")"), "ok");
  EXPECT_EQ(Check(R"({"pattern":"^\\s$"})", R"("\ufeff")"), "ok");
  EXPECT_EQ(Check(R"({"pattern":"^[^]$"})", R"("\n")"), "ok");
  EXPECT_EQ(Check(R"({"pattern":"^\\u00e9$"})", "\"\xC3\xA9\""), "ok");
  EXPECT_EQ(Check(R"({"pattern":"^(?<cc>[A-Z]{2})$"})", R"("NL")"), "ok");
}

// JSON text for a string.
std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Anchored patterns of ASCII classes and quantifiers run without RE2 (SimplePattern); the same
// pattern in a group, which only RE2 runs, must give the same answer on strings around it.
TEST(JsonSchemaKeywords, SimplePatternsAgreeWithRe2) {
  struct Case {
    const char* pattern;
    std::vector<std::string> examples;  // matching strings, mutated into near misses
  };
  const Case cases[] = {
      {"^[A-Z]{3}$", {"EUR", "USD"}},
      {"^[0-9a-f]{32}$", {"17c5ad539dbb98d92dd4705aaba5de2b"}},
      {"^[0-9a-f]{16}$", {"6faa904a94c529bd"}},
      {"^[A-Z][A-Z_]*$", {"STOCKOUT", "A", "DAMAGED_IN_TRANSIT"}},
      {"^ORD-", {"ORD-7fde-00000001"}},
      {"^evt-[0-9A-Za-z_]+-[0-9]{12}$", {"evt-42-000000000001", "evt-a_B-123456789012"}},
      {"^a*b$", {"b", "aaab"}},
      {"^\\d{2,4}-x?$", {"12-", "1234-x"}},
      {"^[a-c]{1,3}[d-f]+$", {"ad", "abcfff"}},
      {"^[\\w.-]+@x$", {"a.b-c_9@x"}},
      {"^$", {""}},
      {"^[-a]+$", {"-a-"}},
      {"^\\.\\$\\/", {".$/"}},
      {"^[ -~]{2,}$", {"hello world"}},
      {"^x{2,}y?$", {"xx", "xxxy"}},
      {"^[a\\-z]{0,2}Q$", {"Q", "-zQ"}},
  };
  const std::string alphabet = "aAbxyzQ09f-_.@$/ \xC3\xA9\n";
  std::mt19937 rng(11);
  for (const Case& c : cases) {
    const std::string pattern = JsonString(c.pattern);
    auto simple = CompileJsonSchema(R"({"pattern":)" + pattern + "}");
    auto grouped = CompileJsonSchema(R"({"pattern":)" +
                                     JsonString("(?:" + std::string(c.pattern) + ")") + "}");
    ASSERT_TRUE(simple.ok() && grouped.ok()) << c.pattern;
    JsonSchemaValidator a(simple.value()), b(grouped.value());
    int matches = 0;
    for (int i = 0; i < 3000; ++i) {
      std::string s = c.examples[rng() % c.examples.size()];
      for (int edits = static_cast<int>(rng() % 3); edits > 0; --edits) {
        const size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
        const char ch = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0:
            s.insert(s.begin() + static_cast<ptrdiff_t>(at), ch);
            break;
          case 1:
            if (at < s.size()) s[at] = ch;
            break;
          default:
            if (at < s.size()) s.erase(at, 1);
            break;
        }
      }
      const std::string event = Padded(JsonString(s));
      const bool ok = a.Validate(event).ok();
      ASSERT_EQ(ok, b.Validate(event).ok()) << c.pattern << " on " << JsonString(s);
      matches += ok;
    }
    EXPECT_GT(matches, 0) << c.pattern;
    EXPECT_LT(matches, 3000) << c.pattern;
  }
}

TEST(JsonSchemaKeywords, Formats) {
  const char* s = R"({"format":"date-time"})";
  // The common shape (YYYY-MM-DDTHH:MM:SS[.fff]Z) takes a fast path; these are at its edges.
  for (const char* ok : {"\"2024-02-29T23:59:59.999Z\"", "\"2023-12-31T00:00:00Z\"",
                         "\"2023-06-30T12:30:58.9999999999999999Z\"", "\"2024-01-01T10:00:59Z\""})
    EXPECT_EQ(Check(s, ok), "ok") << ok;
  for (const char* bad :
       {"\"2023-02-29T10:00:00.000Z\"", "\"2024-04-31T10:00:00Z\"", "\"2024-13-01T00:00:00Z\"",
        "\"2024-00-10T00:00:00Z\"", "\"2024-01-00T00:00:00Z\"", "\"2024-01-01T10:00:00.Z\"",
        "\"2024-01-01T10:60:00Z\"", "\"2024-01-01T1a:00:00Z\"",
        "\"2024-01-01T10:00:59.99999999999999999Z\""})  // JavaScript: second 60
    EXPECT_NE(Check(s, bad), "ok") << bad;
  for (const char* ok :
       {"\"2024-02-29T12:00:00Z\"", "\"2024-12-31T23:59:60Z\"", "\"2024-12-31T22:59:60-01:00\"",
        "\"2024-01-01t10:00:00z\"", "\"2024-01-01 10:00:00+01\"",
        "\"2024-01-01T10:00:00.123456789+0130\"", "1"})
    EXPECT_EQ(Check(s, ok), "ok") << ok;
  for (const char* bad :
       {"\"2023-02-29T12:00:00Z\"", "\"2024-12-31T23:59:60+01:00\"", "\"2024-01-01T10:00:00\"",
        "\"2024-01-01T24:00:00Z\"", "\"2024-01-01TT10:00:00Z\"", "\"2024-01-01T10:00:00+24:00\""})
    EXPECT_NE(Check(s, bad), "ok") << bad;
  // The fast path's word checks of the time and of a millisecond fraction.
  for (const char* ok :
       {"\"2024-01-01T23:59:59Z\"", "\"2024-01-01T19:59:59.123Z\"", "\"2024-01-01T20:00:59.5Z\"",
        "\"2024-01-01T09:09:09.1234Z\"", "\"2024-01-01T00:00:00.000Z\""})
    EXPECT_EQ(Check(s, ok), "ok") << ok;
  for (const char* bad :
       {"\"2024-01-01T29:00:00Z\"", "\"2024-01-01T10:00:00.12aZ\"", "\"2024-01-01T10:00:00:123Z\"",
        "\"2024-01-01T10:00:00.123+2\"", "\"2024-01-01T10:70:00.000Z\"",
        "\"2024-01-01T10:00:6a.000Z\"", "\"2024-01-01T3:00:00.0000Z\""})
    EXPECT_NE(Check(s, bad), "ok") << bad;
  EXPECT_EQ(Check(s, "\"2023-02-29T12:00:00Z\""),
            "/: \"2023-02-29T12:00:00Z\" is not a valid date-time");
  EXPECT_EQ(Check(R"({"format":"date"})", R"("2000-02-29")"), "ok");
  EXPECT_NE(Check(R"({"format":"date"})", R"("1900-02-29")"), "ok");
  EXPECT_EQ(Check(R"({"format":"time"})", R"("10:00:00.5+05:30")"), "ok");
  EXPECT_NE(Check(R"({"format":"time"})", R"("10:00:00")"), "ok");
  EXPECT_EQ(Check(R"({"format":"iso-time"})", R"("10:00:00")"), "ok");
  EXPECT_EQ(Check(R"({"format":"email"})", R"("ops@example.com")"), "ok");
  EXPECT_NE(Check(R"({"format":"email"})",
                  "\"ops@ex\xE2\x84\xAA"
                  "ample.com\""),
            "ok");  // KELVIN
  EXPECT_EQ(Check(R"({"format":"uuid"})", R"("URN:UUID:123E4567-e89b-12d3-a456-426614174000")"),
            "ok");
  EXPECT_NE(Check(R"({"format":"ipv4"})", R"("01.2.3.4")"), "ok");
  EXPECT_NE(Check(R"({"format":"duration"})", R"("PT")"), "ok");
  EXPECT_EQ(Check(R"({"format":"duration"})", R"("P1Y2M3DT4H")"), "ok");
  EXPECT_NE(Check(R"({"format":"hostname"})", R"("-a.com")"), "ok");
  EXPECT_NE(Check(R"({"format":"int32"})", "2147483648"), "ok");
  EXPECT_EQ(Check(R"({"format":"int32"})", "\"text\""), "ok");  // number formats skip strings
  EXPECT_EQ(CompileError(R"({"properties":{"u":{"format":"uri"}}})"),
            "unsupported format 'uri' at /properties/u");
}

// Length, bounds and date-time checks of a property's value take a quick path (NodeBrief);
// a no-op keyword (an empty pattern, an exclusiveMaximum no JSON number reaches, the format
// "password") turns it off,
// so the full check must agree, message for message.
TEST(JsonSchemaKeywords, QuickChecksAgreeWithTheFullCheck) {
  const std::string quick = R"({"properties":{
      "s":{"type":"string","minLength":2,"maxLength":3},
      "d":{"type":"string","format":"date-time","maxLength":24},
      "i":{"type":"integer","minimum":1,"maximum":10},
      "n":{"type":["number","string"],"minimum":-1.5,"minLength":1},
      "a":{"minLength":1},
      "p":{"type":"string","pattern":"^[a-z]{2,3}$","maxLength":2}}})";
  const std::string full = R"({"properties":{
      "s":{"type":"string","minLength":2,"maxLength":3,"pattern":""},
      "d":{"type":"string","format":"date-time","maxLength":24,"pattern":""},
      "i":{"type":"integer","minimum":1,"maximum":10,"exclusiveMaximum":1e308},
      "n":{"type":["number","string"],"minimum":-1.5,"minLength":1,"pattern":"",
           "exclusiveMaximum":1e308},
      "a":{"minLength":1,"pattern":"","exclusiveMaximum":1e308},
      "p":{"type":"string","pattern":"^[a-z]{2,3}$","maxLength":2,"format":"password"}}})";
  auto q = CompileJsonSchema(quick), f = CompileJsonSchema(full);
  ASSERT_TRUE(q.ok() && f.ok());
  JsonSchemaValidator a(q.value()), b(f.value());
  const char* keys[] = {"s", "d", "i", "n", "a", "p"};
  const char* values[] = {"\"\"",
                          "\"x\"",
                          "\"xy\"",
                          "\"xyz\"",
                          "\"wxyz\"",
                          "\"\xC3\xA9\"",
                          "\"\xC3\xA9\xC3\xA9\"",
                          "\"\xC3\xA9\xC3\xA9\xC3\xA9\"",
                          "\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"",
                          "\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\"",
                          "\"2024-01-01T10:00:00Z\"",
                          "\"2024-01-01T10:00:00.123Z\"",
                          "\"2024-01-01T10:00:00.1234Z\"",
                          "\"2024-01-01t10:00:00z\"",
                          "\"2024-02-30T10:00:00Z\"",
                          "0",
                          "1",
                          "10",
                          "11",
                          "1.5",
                          "-1.5",
                          "-1.6",
                          "1e300",
                          "-0",
                          "true",
                          "null",
                          "[1]",
                          "{}"};
  std::mt19937 rng(11);
  for (int i = 0; i < 4000; ++i) {
    std::string event = "{";
    for (int fields = static_cast<int>(rng() % 4); fields > 0; --fields) {
      if (event.size() > 1) event += ",";
      event += std::string("\"") + keys[rng() % std::size(keys)] +
               "\":" + values[rng() % std::size(values)];
    }
    event = Padded(event + "}");
    Status sa = a.Validate(event), sb = b.Validate(event);
    ASSERT_EQ(sa.ok() ? "ok" : sa.message(), sb.ok() ? "ok" : sb.message()) << event;
  }
}

// Property tables are perfect hashes when a shift of the key hashes allows: every declared key
// is found, and no other key (the empty one, one differing in a byte, a longer one) is.
TEST(JsonSchemaKeywords, PropertyLookupFindsExactlyTheDeclaredKeys) {
  for (int count : {1, 3, 9, 20, 31, 40, 100}) {
    std::string schema = R"({"additionalProperties":false,"properties":{)";
    std::vector<std::string> names;
    for (int k = 0; k < count; ++k) {
      names.push_back(k % 3 == 0 ? "field_" + std::to_string(k)
                      : k % 3 == 1
                          ? "a_rather_long_property_name_" + std::to_string(k)
                          : std::string(1, static_cast<char>('a' + k % 26)) + std::to_string(k));
      schema += (k > 0 ? ",\"" : "\"") + names.back() + "\":{\"type\":\"integer\"}";
    }
    schema += "}}";
    auto compiled = CompileJsonSchema(schema);
    ASSERT_TRUE(compiled.ok()) << compiled.status().message();
    JsonSchemaValidator v(compiled.value());
    for (const std::string& name : names) {
      EXPECT_TRUE(v.Validate(Padded("{\"" + name + "\":1}")).ok()) << name;
      EXPECT_EQ(v.Validate(Padded("{\"" + name + "\":\"x\"}")).message(),
                "/" + name + ": \"x\" is not of type integer");
      for (const std::string& other : {name + "_", name.substr(1), "X" + name.substr(1)})
        EXPECT_EQ(v.Validate(Padded("{\"" + other + "\":1}")).message(),
                  "/: property '" + other + "' is not allowed (additionalProperties)");
    }
    EXPECT_EQ(v.Validate(Padded(R"({"":1})")).message(),
              "/: property '' is not allowed (additionalProperties)");
  }
}

TEST(JsonSchemaKeywords, EnumAndConstCompareByValue) {
  const char* s =
      R"({"properties":{"k":{"const":{"a":1,"b":[1,2]}},"e":{"enum":["x",1,null,[1]]}}})";
  EXPECT_EQ(Check(s, R"({"k":{"b":[1.0,2],"a":1}})"), "ok");
  EXPECT_EQ(Check(s, R"({"k":{"b":[2,1],"a":1}})"),
            "/k: an object is not equal to the constant {\"a\":1,\"b\":[1,2]}");
  EXPECT_EQ(Check(s, R"({"e":1.0})"), "ok");
  EXPECT_EQ(Check(s, R"({"e":[1]})"), "ok");
  EXPECT_EQ(Check(s, R"({"e":null})"), "ok");
  EXPECT_EQ(Check(s, R"({"e":"y"})"),
            "/e: \"y\" is not one of the allowed values [\"x\", 1, null, [1]]");
  EXPECT_EQ(Check(R"({"const":0})", "-0"), "ok");
}

TEST(JsonSchemaKeywords, ObjectKeywords) {
  const char* s = R"({"type":"object","required":["order_id"],"minProperties":1,"maxProperties":3,
      "properties":{"order_id":{"type":"string"}},"patternProperties":{"^x-":{"type":"integer"}},
      "additionalProperties":false,"propertyNames":{"maxLength":8}})";
  EXPECT_EQ(Check(s, R"({"order_id":"o","x-a":1})"), "ok");
  EXPECT_EQ(Check(s, R"({"x-a":1})"), "/: missing required property 'order_id'");
  EXPECT_EQ(Check(s, R"({"order_id":"o","other":1})"),
            "/: property 'other' is not allowed (additionalProperties)");
  EXPECT_EQ(Check(s, R"({"order_id":"o","x-a":"1"})"), "/x-a: \"1\" is not of type integer");
  EXPECT_EQ(Check(s, R"({"order_id":"o","x-abcdefgh":1})"),
            "/: property name \"x-abcdefgh\" is invalid: \"x-abcdefgh\" has 10 characters, more "
            "than maxLength 8");
  EXPECT_EQ(Check(s, R"({"order_id":"o","x-a":1,"x-b":2,"x-c":3})"),
            "/: object has 4 properties, more than maxProperties 3");
  EXPECT_EQ(Check(R"({"minProperties":1})", "{}"),
            "/: object has 0 properties, fewer than minProperties 1");
}

TEST(JsonSchemaKeywords, ArrayKeywords) {
  const char* s = R"({"properties":{"lines":{"type":"array","minItems":1,"maxItems":3,
      "items":{"type":"object","properties":{"qty":{"type":"integer","minimum":1}}}},
      "point":{"prefixItems":[{"type":"number"},{"type":"number"}],"items":false},
      "tags":{"uniqueItems":true}}})";
  EXPECT_EQ(Check(s, R"({"lines":[{"qty":1},{"qty":2}],"point":[1,2],"tags":["a","b"]})"), "ok");
  EXPECT_EQ(Check(s, R"({"lines":[{"qty":1},{"qty":2},{"qty":3},{"qty":0}]})"),
            "/lines/3/qty: 0 is less than minimum 1");
  EXPECT_EQ(Check(s, R"({"lines":[]})"), "/lines: array has 0 items, fewer than minItems 1");
  EXPECT_EQ(Check(s, R"({"point":[1,2,3]})"),
            "/point/2: no value is allowed here (the schema is false)");
  EXPECT_EQ(Check(s, R"({"point":["1"]})"), "/point/0: \"1\" is not of type number");
  EXPECT_EQ(Check(s, R"({"tags":[1,{"a":[1]},2,{"a":[1.0]}]})"),
            "/tags: items 1 and 3 are equal (uniqueItems)");
  EXPECT_EQ(Check(s, R"({"tags":[{"a":1,"b":2},{"b":2,"a":1}]})"),
            "/tags: items 0 and 1 are equal (uniqueItems)");
  EXPECT_EQ(Check(s, R"({"tags":[1,"1",true,null,[],{}]})"), "ok");
}

TEST(JsonSchemaComposition, AllAnyOneNot) {
  const char* any = R"({"anyOf":[{"type":"string"},{"type":"object","required":["a"]}]})";
  EXPECT_EQ(Check(any, R"("x")"), "ok");
  EXPECT_EQ(Check(any, R"({"b":1})"),
            "/: matches none of the anyOf schemas (closest: /: missing required property 'a')");
  const char* one = R"({"oneOf":[{"required":["a"]},{"required":["b"]}]})";
  EXPECT_EQ(Check(one, R"({"a":1})"), "ok");
  EXPECT_EQ(Check(one, R"({"a":1,"b":2})"),
            "/: matches 2 of the oneOf schemas (expected exactly one; branches 0 and 1 match)");
  EXPECT_EQ(Check(R"({"not":{"type":"null"}})", "null"), "/: matches the schema in 'not'");
  EXPECT_EQ(Check(R"({"allOf":[{"minimum":1},{"maximum":2}]})", "3"),
            "/: 3 is greater than maximum 2");
}

TEST(JsonSchemaComposition, IfThenElseFinancialEvents) {
  const char* s = R"({"type":"object",
      "if":{"properties":{"event_type":{"enum":["payment.captured","refund.issued"]}}},
      "then":{"required":["amount_minor","currency"],
              "properties":{"amount_minor":{"type":"integer"},"currency":{"pattern":"^[A-Z]{3}$"}}},
      "else":{"not":{"required":["amount_minor"]}}})";
  EXPECT_EQ(Check(s, R"({"event_type":"payment.captured","amount_minor":100,"currency":"EUR"})"),
            "ok");
  EXPECT_EQ(Check(s, R"({"event_type":"payment.captured","amount_minor":12.5,"currency":"EUR"})"),
            "/amount_minor: 12.5 is not of type integer");
  EXPECT_EQ(Check(s, R"({"event_type":"refund.issued","amount_minor":1})"),
            "/: missing required property 'currency'");
  EXPECT_EQ(Check(s, R"({"event_type":"pick.started"})"), "ok");
  EXPECT_EQ(Check(s, R"({"event_type":"pick.started","amount_minor":1})"),
            "/: matches the schema in 'not'");
}

// if/then/else that only require fields (the fulfilment schema's rules) are decided in the
// frameless pass (Node::conditions). The same schema with "anyOf":[true] added, which changes
// nothing but forces the general path, must give the same answer and message on every event.
TEST(JsonSchemaComposition, ConditionsAgreeWithTheGeneralPath) {
  const std::string schemas[] = {
      R"({"type":"object","required":["event_type"],
          "properties":{"event_type":{"type":"string"},"amount":{"type":"integer"},"n":{}},
          "allOf":[
            {"if":{"required":["event_type"],"properties":{"event_type":{"enum":["pay","refund"]}}},
             "then":{"required":["amount","currency"]}},
            {"if":{"properties":{"event_type":{"const":"exception"},"n":{"type":"integer"}}},
             "then":{"required":["code"]},"else":{"required":["n"]}}]})",
      R"({"properties":{"kind":{"enum":["a","b"]},"x":{"minimum":3}},
          "if":{"properties":{"kind":{"const":"a"},"x":{"type":"number"}},"required":["kind"]},
          "then":{"required":["x"]},"else":{"required":["y","z"]}})",
      R"({"additionalProperties":{"type":"integer"},"properties":{"t":{"type":"string"}},
          "allOf":[{"if":{"properties":{"t":false}},"then":{"required":["u"]}}]})",
  };
  const char* keys[] = {"event_type", "amount", "currency", "code", "n", "kind",
                        "x",          "y",      "z",        "t",    "u"};
  const char* values[] = {"\"pay\"",  "\"refund\"", "\"exception\"", "\"a\"", "\"b\"", "1",
                          "2.5",      "7",          "null",          "true",  "{}",    "[1]",
                          "{\"a\":1}"};
  std::mt19937 rng(5);
  for (const std::string& schema : schemas) {
    auto conditions = CompileJsonSchema(schema);
    auto general = CompileJsonSchema(schema.substr(0, schema.rfind('}')) + R"(,"anyOf":[true]})");
    ASSERT_TRUE(conditions.ok() && general.ok()) << schema;
    JsonSchemaValidator a(conditions.value()), b(general.value());
    for (int i = 0; i < 4000; ++i) {
      std::string event = "{";
      for (int fields = static_cast<int>(rng() % 6); fields > 0; --fields) {
        if (event.size() > 1) event += ",";
        event +=
            JsonString(keys[rng() % std::size(keys)]) + ":" + values[rng() % std::size(values)];
      }
      event = Padded(event + "}");
      Status sa = a.Validate(event), sb = b.Validate(event);
      ASSERT_EQ(sa.ok() ? "ok" : sa.message(), sb.ok() ? "ok" : sb.message()) << schema << "\n"
                                                                              << event;
    }
  }
}

TEST(JsonSchemaRefs, LocalAndRecursive) {
  const char* tree = R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object",
      "properties":{"v":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}}})";
  EXPECT_EQ(Check(tree, R"({"v":1,"children":[{"v":2,"children":[{"v":3}]}]})"), "ok");
  EXPECT_EQ(Check(tree, R"({"v":1,"children":[{"v":2,"children":[{"v":"x"}]}]})"),
            "/children/0/children/0/v: \"x\" is not of type integer");
  const char* list =
      R"({"properties":{"next":{"anyOf":[{"type":"null"},{"$ref":"#"}]},"v":{"type":"integer"}}})";
  EXPECT_EQ(Check(list, R"({"v":1,"next":{"v":2,"next":null}})"), "ok");
  EXPECT_NE(Check(list, R"({"v":1,"next":{"v":2.5}})"), "ok");
  const char* escaped =
      R"({"properties":{"a":{"$ref":"#/definitions/x~1y"},"b":{"$ref":"#/definitions/p%25q"}},
      "definitions":{"x/y":{"type":"string"},"p%q":{"type":"boolean"}}})";
  EXPECT_EQ(Check(escaped, R"({"a":"s","b":true})"), "ok");
  EXPECT_EQ(Check(escaped, R"({"a":1})"), "/a: 1 is not of type string");
}

TEST(JsonSchemaCompile, ErrorsNameTheKeywordAndTheLocation) {
  EXPECT_EQ(CompileError(R"({"properties":{"lines":{"contains":{"type":"string"}}}})"),
            "unsupported JSON Schema keyword 'contains' at /properties/lines");
  EXPECT_EQ(CompileError(R"({"unevaluatedProperties":false})"),
            "unsupported JSON Schema keyword 'unevaluatedProperties' at /");
  EXPECT_EQ(CompileError(R"({"requried":["a"]})"),
            "unsupported JSON Schema keyword 'requried' at /");
  EXPECT_EQ(CompileError(R"({"properties":{"code":{"pattern":"("}}})"),
            "invalid pattern '(' at /properties/code: missing ): (");
  EXPECT_EQ(CompileError(R"js({"pattern":"^(?=a)"})js"),
            "invalid pattern '^(?=a)' at /: lookaround (not supported by RE2)");
  EXPECT_EQ(CompileError(R"({"pattern":"(a)\\1"})"),
            "invalid pattern '(a)\\1' at /: a backreference (not supported by RE2)");
  EXPECT_EQ(CompileError(R"({"$ref":"#/$defs/missing"})"),
            "unresolvable $ref '#/$defs/missing' at /");
  EXPECT_EQ(
      CompileError(R"({"$ref":"other.json#/a"})"),
      "unsupported $ref 'other.json#/a' at /: only local references (\"#...\") are supported");
  EXPECT_EQ(CompileError(R"({"$ref":"#"})"),
            "$ref loop at /: the schema refers back to itself without descending into a property "
            "or an item");
  EXPECT_EQ(
      CompileError(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}}})")
          .substr(0, 9),
      "$ref loop");
  EXPECT_EQ(CompileError(R"({"minimum":"5"})"), "invalid schema at /: 'minimum' must be a number");
  EXPECT_EQ(CompileError(R"({"type":"int"})"), "invalid schema at /: unknown type \"int\"");
  EXPECT_EQ(CompileError(R"({"items":[{"type":"string"}]})"),
            "invalid schema at /: 'items' must be a schema (use 'prefixItems' for tuples)");
  EXPECT_EQ(CompileError(R"({"$schema":"http://json-schema.org/draft-07/schema#"})"),
            "unsupported $schema \"http://json-schema.org/draft-07/schema#\" (only draft 2020-12, "
            "https://json-schema.org/draft/2020-12/schema)");
  EXPECT_EQ(CompileError(R"({"properties":{"a":{"$id":"x"}}})"),
            "unsupported JSON Schema keyword '$id' at /properties/a");
  EXPECT_EQ(CompileError("{"), CompileError("{").substr(0, 26) + CompileError("{").substr(26));
  EXPECT_EQ(CompileError("{").substr(0, 26), "schema is not valid JSON: ");
  EXPECT_EQ(CompileError(R"({"title":5,"description":"d","x-owner":"ops","examples":[1]})"),
            "compiled");
}

TEST(JsonSchemaCompile, DepthLimit) {
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += R"({"properties":{"a":)";
  deep += "true";
  for (int i = 0; i < 70; ++i) deep += "}}";
  EXPECT_EQ(CompileError(deep).substr(0, 37), "schema nested deeper than 64 levels a");
}

TEST(JsonSchemaValidate, BooleanSchemas) {
  EXPECT_EQ(Check("true", R"({"a":[1,{}]})"), "ok");
  EXPECT_EQ(Check("false", "1"), "/: no value is allowed here (the schema is false)");
  EXPECT_EQ(Check(R"({"properties":{"a":false}})", R"({"a":1})"),
            "/a: no value is allowed here (the schema is false)");
  EXPECT_EQ(Check(R"({"properties":{"a":false}})", R"({"b":1})"), "ok");
}

TEST(JsonSchemaValidate, InvalidJsonDuplicatesAndDepth) {
  const char* s = R"({"type":"object"})";
  EXPECT_EQ(Check(s, R"({"a":1,"a":2})"), "/: duplicate key 'a'");
  EXPECT_EQ(Check(s, R"({"o":{"a\u0062":1,"ab":2}})"), "/o: duplicate key 'ab'");
  EXPECT_EQ(Check(s, R"({"a":1} {"b":2})"),
            "invalid JSON at byte 8: Unexpected trailing content in the JSON input.");
  EXPECT_EQ(Check(s, R"({"a":1e400})").substr(0, 12), "invalid JSON");
  EXPECT_EQ(Check(s, R"({"a":"\ud800"})").substr(0, 12), "invalid JSON");
  EXPECT_EQ(Check(s, R"({"a":tru})").substr(0, 12), "invalid JSON");
  EXPECT_EQ(Check(s, "").substr(0, 12), "invalid JSON");
  // Objects with many keys move from the small-object list to the hash set: both must detect.
  std::string many = "{";
  for (int i = 0; i < 40; ++i)
    many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
  EXPECT_EQ(Check(R"({"required":["k39"]})", many + "}"), "ok");
  EXPECT_EQ(Check(R"({"required":["k40"]})", many + "}"), "/: missing required property 'k40'");
  EXPECT_EQ(Check(s, many + R"(,"k5":2})"), "/: duplicate key 'k5'");
  EXPECT_EQ(Check(s, many + R"(,"k39":2})"), "/: duplicate key 'k39'");
  EXPECT_EQ(Check(R"({"properties":{"m":true}})", R"({"m":)" + many + R"(,"k0":0}})"),
            "/m: duplicate key 'k0'");
  // The root is at depth 0, so "d"'s array is at 1 and the innermost of 64 arrays at 64.
  std::string ok_depth = R"({"d":)" + std::string(64, '[') + std::string(64, ']') + "}";
  std::string deep = R"({"d":)" + std::string(65, '[') + std::string(65, ']') + "}";
  std::string pointer = "/d";
  for (int i = 0; i < 64; ++i) pointer += "/0";
  EXPECT_EQ(Check(s, deep), pointer + ": value nested deeper than 64 levels");
  EXPECT_EQ(Check(s, ok_depth), "ok");
}

TEST(JsonSchemaValidate, PointersEscapeKeys) {
  EXPECT_EQ(
      Check(
          R"({"additionalProperties":{"type":"object","additionalProperties":{"type":"integer"}}})",
          R"({"a/b":{"c~d":"x"}})"),
      "/a~1b/c~0d: \"x\" is not of type integer");
}

TEST(JsonSchemaValidate, CapturesTopLevelFields) {
  auto compiled = CompileJsonSchema(R"({"type":"object","required":["event_id"],
      "properties":{"amount":{"type":"integer"}}})");
  ASSERT_TRUE(compiled.ok());
  std::vector<std::string> names = {"event_id", "occurred_at", "amount", "meta"};
  JsonSchemaValidator v(compiled.value(), names);
  ASSERT_EQ(v.captured_count(), 4u);
  ASSERT_TRUE(
      v.Validate(
           Padded(R"({"meta":{"event_id":"inner"},"event_id":"evt-\u0031","amount":12 ,"x":null})"))
          .ok());
  EXPECT_TRUE(v.captured(0).present);
  EXPECT_EQ(v.captured(0).type, JsonType::kString);
  EXPECT_EQ(v.captured(0).text, "evt-1");
  EXPECT_FALSE(v.captured(1).present);
  EXPECT_EQ(v.captured(2).type, JsonType::kNumber);
  EXPECT_EQ(v.captured(2).text, "12");
  EXPECT_EQ(v.captured(3).type, JsonType::kObject);
  EXPECT_FALSE(v.captured(0).duplicated);

  // Captured also when the event fails validation, so that a dead letter can name its id.
  Status st = v.Validate(Padded(R"({"event_id":"e2","amount":1.5,"occurred_at":true})"));
  EXPECT_EQ(st.message(), "/amount: 1.5 is not of type integer");
  EXPECT_EQ(v.captured(0).text, "e2");
  EXPECT_EQ(v.captured(1).type, JsonType::kBoolean);
  EXPECT_EQ(v.captured(1).text, "true");

  st = v.Validate(Padded(R"({"event_id":"a","event_id":"b"})"));
  EXPECT_EQ(st.message(), "/: duplicate key 'event_id'");
  EXPECT_TRUE(v.captured(0).duplicated);
  EXPECT_EQ(v.captured(0).text, "a");
}

TEST(JsonSchemaValidate, WarmValidatorDoesNotAllocate) {
  auto compiled = CompileJsonSchema(R"({"type":"object","required":["id","lines"],
      "properties":{"id":{"type":"string","pattern":"^evt-"},"at":{"format":"date-time"},
        "kind":{"oneOf":[{"const":"a"},{"const":"b"}]},
        "lines":{"type":"array","uniqueItems":true,"items":{"$ref":"#/$defs/line"}}},
      "$defs":{"line":{"type":"object","properties":{"q":{"type":"integer","minimum":1}},
        "anyOf":[{"required":["q"]},{"required":["sku"]}]}}})");
  ASSERT_TRUE(compiled.ok());
  std::vector<std::string> names = {"id"};
  JsonSchemaValidator v(compiled.value(), names);
  std::string events[] = {
      Padded(
          R"({"id":"evt-1","at":"2024-01-01T00:00:00Z","kind":"a","lines":[{"q":1},{"sku":"x"}],"meta":{"k":[1,2,{"z":null}]}})"),
      Padded(
          R"({"id":"evt-2","kind":"b","lines":[{"q":2,"sku":"y"}],"notes":"a fairly long note that is not short"})"),
  };
  for (int warm = 0; warm < 3; ++warm)
    for (const std::string& e : events) ASSERT_TRUE(v.Validate(e).ok());
  long before = g_allocations.load();
  for (int i = 0; i < 100; ++i)
    for (const std::string& e : events) (void)v.Validate(e);
  EXPECT_EQ(g_allocations.load() - before, 0);
}

TEST(JsonSchemaValidate, GarbageNeverCrashes) {
  auto compiled = CompileJsonSchema(R"({"properties":{"a":{"anyOf":[{"type":"array",
      "items":{"$ref":"#"}},{"uniqueItems":true}]}},"propertyNames":{"pattern":"."}})");
  ASSERT_TRUE(compiled.ok());
  JsonSchemaValidator v(compiled.value());
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]:,\"\\ 0123456789.eE-+truefalsnl\x01\xC3\xA9\xFF";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (int n = rng() % 40; n > 0; --n) s += alphabet[rng() % alphabet.size()];
    Status st = v.Validate(Padded(s));
    if (!st.ok()) {
      ASSERT_FALSE(st.message().empty());
    }
  }
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (int n = rng() % 200; n > 0; --n) s += static_cast<char>(rng());
    auto r = CompileJsonSchema(s);
    if (!r.ok()) {
      ASSERT_FALSE(r.status().message().empty());
    }
  }
}

}  // namespace
}  // namespace sluice::schema
