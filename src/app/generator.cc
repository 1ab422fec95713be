#include "app/generator.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/json_writer.h"
#include "base/time.h"

namespace sluice::app {
namespace {

// ---- Reference data ----

struct Warehouse {
  const char* id;
  const char* site;
  const char* country;
  const char* currency;
  int currency_scale_percent;  // price multiplier relative to EUR, in percent
  const char* region;
  const char* timezone;
  const char* locale;
  const char* towns[4];
  int carriers[3];
};

// Carrier indexes refer to kCarriers.
constexpr Warehouse kWarehousesTable[FulfilmentGenerator::kWarehouses] = {
    {"WH-01",
     "Rotterdam Waalhaven",
     "NL",
     "EUR",
     100,
     "eu-west-1",
     "Europe/Amsterdam",
     "nl-NL",
     {"Rotterdam", "Utrecht", "Den Haag", "Eindhoven"},
     {2, 0, 1}},
    {"WH-02",
     "Duisburg Logport",
     "DE",
     "EUR",
     100,
     "eu-central-1",
     "Europe/Berlin",
     "de-DE",
     {"Koeln", "Duesseldorf", "Essen", "Dortmund"},
     {0, 1, 9}},
    {"WH-03",
     "Daventry DIRFT",
     "GB",
     "GBP",
     86,
     "eu-west-2",
     "Europe/London",
     "en-GB",
     {"Northampton", "Coventry", "Birmingham", "Leicester"},
     {3, 4, 1}},
    {"WH-04",
     "Leeds Stourton",
     "GB",
     "GBP",
     86,
     "eu-west-2",
     "Europe/London",
     "en-GB",
     {"Leeds", "Manchester", "Sheffield", "York"},
     {3, 4, 5}},
    {"WH-05",
     "Memphis Airways",
     "US",
     "USD",
     108,
     "us-east-1",
     "America/Chicago",
     "en-US",
     {"Memphis", "Nashville", "Little Rock", "Jackson"},
     {6, 5, 7}},
    {"WH-06",
     "Reno Tahoe Industrial",
     "US",
     "USD",
     108,
     "us-west-2",
     "America/Los_Angeles",
     "en-US",
     {"Reno", "Sacramento", "San Jose", "Fresno"},
     {5, 7, 6}},
    {"WH-07",
     "Jonkoping Torsvik",
     "SE",
     "SEK",
     1150,
     "eu-north-1",
     "Europe/Stockholm",
     "sv-SE",
     {"Jonkoping", "Goteborg", "Stockholm", "Malmo"},
     {8, 0, 9}},
    {"WH-08",
     "Madrid Coslada",
     "ES",
     "EUR",
     100,
     "eu-south-2",
     "Europe/Madrid",
     "es-ES",
     {"Madrid", "Valencia", "Zaragoza", "Toledo"},
     {11, 9, 5}},
    {"WH-09",
     "Milano Castel San Giovanni",
     "IT",
     "EUR",
     100,
     "eu-south-1",
     "Europe/Rome",
     "it-IT",
     {"Milano", "Torino", "Bologna", "Verona"},
     {12, 9, 0}},
    {"WH-10",
     "Poznan Sady",
     "PL",
     "PLN",
     430,
     "eu-central-1",
     "Europe/Warsaw",
     "pl-PL",
     {"Poznan", "Wroclaw", "Lodz", "Warszawa"},
     {10, 1, 9}},
    {"WH-11",
     "Columbus Rickenbacker",
     "US",
     "USD",
     108,
     "us-east-2",
     "America/New_York",
     "en-US",
     {"Columbus", "Cincinnati", "Pittsburgh", "Indianapolis"},
     {5, 6, 7}},
    {"WH-12",
     "Lyon Saint-Quentin-Fallavier",
     "FR",
     "EUR",
     100,
     "eu-west-3",
     "Europe/Paris",
     "fr-FR",
     {"Lyon", "Grenoble", "Saint-Etienne", "Dijon"},
     {13, 14, 9}},
};

struct Carrier {
  const char* name;
  const char* tracking_prefix;
  int64_t base_eur_minor;
};
constexpr Carrier kCarriers[] = {
    {"DHL Parcel", "JJD", 495}, {"DPD", "DPD", 455},      {"PostNL", "3S", 425},
    {"Royal Mail", "RM", 395},  {"Evri", "H01", 325},     {"UPS", "1Z", 745},
    {"FedEx", "FX", 795},       {"USPS", "9400", 415},    {"PostNord", "PN", 465},
    {"GLS", "GLS", 435},        {"InPost", "IP", 299},    {"SEUR", "SE", 445},
    {"BRT", "BRT", 455},        {"Colissimo", "6A", 489}, {"Chronopost", "XY", 899},
};

struct Product {
  const char* name;
  int64_t price_eur_minor;
  int weight_g;
  const char* category;
};
constexpr Product kProducts[] = {
    {"Stainless steel water bottle 750 ml", 1899, 420, "home"},
    {"Organic cotton crew-neck t-shirt, navy, size M", 2495, 210, "apparel"},
    {"Wireless noise-cancelling headphones", 17900, 640, "electronics"},
    {"USB-C fast charger 65 W", 3999, 180, "electronics"},
    {"Ceramic pour-over coffee dripper", 2750, 530, "kitchen"},
    {"Whole bean coffee, Ethiopia Yirgacheffe, 1 kg", 2890, 1040, "grocery"},
    {"Merino wool hiking socks, 3-pack", 2999, 240, "apparel"},
    {"Cast iron skillet 28 cm", 4995, 3100, "kitchen"},
    {"LED desk lamp with wireless charging pad", 5999, 1450, "home"},
    {"Yoga mat 6 mm, non-slip, sage green", 3495, 1800, "sports"},
    {"Children's picture book, hardcover", 1299, 450, "books"},
    {"Mechanical keyboard, brown switches, ISO layout", 11900, 1250, "electronics"},
    {"Running shoes, men's, size 43", 12995, 780, "footwear"},
    {"Running shoes, women's, size 39", 12995, 690, "footwear"},
    {"Bamboo cutting board set of 3", 3299, 1900, "kitchen"},
    {"Scented soy candle, cedar and vanilla", 1995, 380, "home"},
    {"Waterproof rain jacket, unisex, size L", 8995, 620, "apparel"},
    {"Dry dog food, grain-free salmon, 12 kg", 6490, 12300, "pet"},
    {"Cat scratching post, 80 cm", 3999, 4200, "pet"},
    {"Smart plug with energy monitoring, 2-pack", 2999, 260, "electronics"},
    {"Glass food storage containers, set of 5", 3899, 2650, "kitchen"},
    {"Bluetooth bathroom scale", 2999, 1700, "health"},
    {"Vitamin D3 supplement, 120 capsules", 1495, 110, "health"},
    {"Linen duvet cover, double, oatmeal", 11900, 1350, "home"},
    {"Acrylic paint set, 24 colours", 2299, 980, "hobby"},
    {"Hardshell cabin suitcase 55 cm", 14900, 3350, "travel"},
    {"Insulated lunch box, charcoal", 2499, 520, "kitchen"},
    {"Paperback novel, literary fiction", 1099, 320, "books"},
    {"Electric toothbrush with travel case", 6999, 540, "health"},
    {"Replacement brush heads, 4-pack", 2499, 90, "health"},
    {"Kids' LEGO-compatible building bricks, 1000 pcs", 3499, 1600, "toys"},
    {"Garden hose 25 m with spray nozzle", 4299, 3800, "garden"},
    {"Cordless drill driver 18 V with two batteries", 12900, 2400, "diy"},
    {"Wall shelf, solid oak, 80 cm", 5900, 4100, "home"},
    {"Printer paper A4, 5 reams", 2799, 12500, "office"},
    {"Ergonomic office chair cushion", 3999, 900, "office"},
    {"Baby wipes, fragrance-free, 12 x 64", 2199, 5200, "baby"},
    {"Sparkling mineral water, 6 x 1 l", 549, 6400, "grocery"},
    {"Olive oil, extra virgin, 3 l tin", 3950, 3050, "grocery"},
    {"Phone case, clear, shock-absorbing", 1599, 60, "electronics"},
};
constexpr int kProductCount = static_cast<int>(sizeof(kProducts) / sizeof(kProducts[0]));

constexpr const char* kFirstNames[] = {"Anna",   "Lucas", "Sophie", "Noah",  "Emma",  "Liam",
                                       "Olivia", "Mateo", "Julia",  "Jonas", "Chloe", "Leon",
                                       "Maja",   "Hugo",  "Sara",   "Oscar", "Zofia", "Marco",
                                       "Isabel", "James", "Fatima", "Arjun", "Mei",   "Tomasz"};
constexpr const char* kLastNames[] = {
    "de Vries", "Mueller", "Smith",    "Johnson", "Andersson", "Garcia", "Rossi",   "Kowalski",
    "Martin",   "Jansen",  "Schmidt",  "Brown",   "Nilsson",   "Lopez",  "Bianchi", "Nowak",
    "Bernard",  "Bakker",  "Williams", "Taylor",  "Lindqvist", "Romero", "Ferrari", "Wojcik"};
constexpr const char* kStreets[] = {
    "Market Street",    "Station Road", "Church Lane",   "Harbour Way",    "Mill Road",
    "Park Avenue",      "Oak Crescent", "High Street",   "Canal Side",     "Linden Allee",
    "Riverside Drive",  "Kings Road",   "Orchard Close", "Meadow View",    "North Parade",
    "Victoria Terrace", "Birch Grove",  "Chestnut Walk", "Harbour Square", "Old Post Road"};
constexpr const char* kApartments[] = {"Apt 2B",  "Flat 4",    "Unit 12",
                                       "Floor 3", "Suite 210", "c/o reception"};
constexpr const char* kChannels[] = {"web", "ios_app", "android_app", "marketplace", "b2b_edi"};
constexpr const char* kServices[] = {"economy", "standard", "express", "next_day"};
constexpr const char* kTiers[] = {"standard", "standard", "standard", "plus", "plus", "business"};
constexpr const char* kPaymentMethods[] = {"card",   "card",      "card",       "paypal",
                                           "klarna", "apple_pay", "google_pay", "bank_transfer"};
constexpr const char* kPsps[] = {"adyen", "stripe", "checkout_com"};
constexpr const char* kCardBrands[] = {"visa", "mastercard", "amex", "maestro"};
constexpr const char* kStrategies[] = {"nearest_pick_face", "fifo", "wave_batch", "zone_split"};
constexpr const char* kBoxTypes[] = {"mailer_bag_s", "box_s", "box_m", "box_l", "box_xl"};
constexpr const char* kMaterials[] = {"paper_void_fill", "air_pillows",  "corrugated_insert",
                                      "tissue_wrap",     "fragile_tape", "bubble_wrap"};
constexpr const char* kDeliveredTo[] = {"front_door", "neighbour",  "parcel_locker",
                                        "reception",  "safe_place", "customer_in_person"};
constexpr const char* kPodMethods[] = {"signature", "photo", "pin_code", "none"};
constexpr const char* kTags[] = {
    "gift_wrap",     "priority",     "fragile",        "oversize",     "hazmat_none",
    "first_order",   "subscription", "promo_spring",   "loyalty_gold", "carbon_neutral",
    "eco_packaging", "b2b",          "repeat_customer"};
constexpr const char* kNotes[] = {
    "Customer asked for the parcel to be left with a neighbour if nobody is home.",
    "Fragile contents: glassware, pack with extra void fill and mark the box fragile.",
    "Gift order: remove price tags and include the printed gift message.",
    "Do not ring the bell, baby sleeping; knock gently.",
    "Loading dock closes at 17:30, deliveries after that go to the side entrance.",
    "Recheck the SKU label at pack: supplier changed barcode format last week.",
    "Combined with a previous order for the same customer to save packaging.",
    "Customer service note: replacement for an item reported damaged in transit.",
    "Weight verified at the pack station scale within tolerance.",
    "Carrier pickup moved to the second wave because the first trailer is full.",
    "Business address: deliver to goods-in, office hours 08:00 to 16:00 only.",
    "Use the recycled-cardboard box as requested by the customer sustainability preference.",
    "Item sourced from the overflow location in mezzanine level 2.",
    "Address validated against the postal reference file; house number confirmed.",
    "Temperature-sensitive item: keep away from the dock doors in summer.",
    "Second delivery attempt scheduled; customer notified by SMS and e-mail.",
    "Marketplace order: include the partner's packing slip, not ours.",
    "Invoice to be sent separately to the accounts payable mailbox.",
};

constexpr const char* kActions[] = {
    "status_changed",      "sla_recalculated",   "inventory_reserved", "address_checked",
    "customer_notified",   "label_reprinted",    "priority_updated",   "note_added",
    "carrier_rate_quoted", "fraud_check_passed", "slot_booked",        "task_reassigned"};

struct ExceptionKind {
  const char* code;
  const char* stage;
  const char* description;
  const char* severities[2];
  bool item_related;
};
// Indexed by the lifecycle step at which the exception occurs (see ExceptionFor()).
constexpr ExceptionKind kExceptions[] = {
    {"STOCKOUT",
     "allocation",
     "No sellable stock at the allocated location; cycle count requested",
     {"high", "critical"},
     true},
    {"ADDRESS_INVALID",
     "allocation",
     "Shipping address failed postal validation; customer contact required",
     {"high", "medium"},
     false},
    {"STOCKOUT",
     "picking",
     "Pick face empty at scan; replenishment task created",
     {"high", "medium"},
     true},
    {"DAMAGED_ITEM",
     "picking",
     "Item damaged at pick face; quarantined for inspection",
     {"medium", "low"},
     true},
    {"SCANNER_OFFLINE",
     "picking",
     "Handheld lost connection to WMS; picks queued offline",
     {"low", "medium"},
     false},
    {"DAMAGED_ITEM",
     "packing",
     "Item found damaged during packing; replacement requested",
     {"medium", "high"},
     true},
    {"WEIGHT_MISMATCH",
     "packing",
     "Parcel weight outside tolerance of expected weight",
     {"medium", "low"},
     false},
    {"LABEL_PRINT_FAILED",
     "packing",
     "Carrier label printer out of stock or jammed at station",
     {"low", "medium"},
     false},
    {"ADDRESS_INVALID",
     "dispatch",
     "Carrier rejected the address at manifest",
     {"high", "critical"},
     false},
    {"CARRIER_DELAY",
     "dispatch",
     "Carrier collection missed its slot; trailer waiting at dock",
     {"medium", "high"},
     false},
    {"CARRIER_DELAY",
     "in_transit",
     "Parcel delayed at carrier hub; new ETA pending",
     {"medium", "low"},
     false},
    {"CUSTOMS_HOLD",
     "in_transit",
     "Parcel held for customs documentation",
     {"high", "medium"},
     false},
};

struct Source {
  const char* service;
  const char* version;
};
constexpr Source kSources[kEventTypeCount] = {
    {"oms-intake", "7.4.1"},       {"billing-gateway", "3.18.0"},
    {"wms-allocator", "5.2.7"},    {"wms-picking", "5.2.7"},
    {"wms-picking", "5.2.7"},      {"wms-packing", "5.3.0"},
    {"tms-dispatch", "2.9.4"},     {"billing-carrier-invoicing", "1.12.2"},
    {"tms-tracking", "2.9.4"},     {"ops-exceptions", "1.6.3"},
    {"billing-refunds", "3.18.0"},
};

constexpr std::string_view kTypeNames[kEventTypeCount] = {
    "order.received",     "payment.captured",     "order.allocated",     "pick.started",
    "pick.completed",     "pack.completed",       "shipment.dispatched", "carrier.charge",
    "shipment.delivered", "fulfilment.exception", "refund.issued",
};

template <typename T, size_t N>
constexpr uint32_t CountOf(const T (&)[N]) {
  return static_cast<uint32_t>(N);
}

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A stateless hash for ids derived from an order (tracking numbers, references).
uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull + b;
  return SplitMix(x);
}

// Writes "YYYY-MM-DDTHH:MM:SS" (19 characters).
void FormatSeconds(int64_t secs, char* dst) {
  int64_t days = FloorDiv(secs, 86400);
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  WriteFixedDigits(static_cast<uint64_t>(y), dst, 4);
  dst[4] = '-';
  WriteFixedDigits(m, dst + 5, 2);
  dst[7] = '-';
  WriteFixedDigits(d, dst + 8, 2);
  dst[10] = 'T';
  WriteFixedDigits(static_cast<uint64_t>(sod / 3600), dst + 11, 2);
  dst[13] = ':';
  WriteFixedDigits(static_cast<uint64_t>(sod / 60 % 60), dst + 14, 2);
  dst[16] = ':';
  WriteFixedDigits(static_cast<uint64_t>(sod % 60), dst + 17, 2);
}

// ---- A tiny JSON appender for trusted ASCII content (no escaping needed) ----

class J {
 public:
  // `first`: whether the next field is the first of its object (no comma before it).
  explicit J(std::string& out, bool first = true) : o_(out), first_(first) {}

  J& Key(std::string_view key) {
    if (!first_) o_ += ',';
    first_ = false;
    o_ += '"';
    o_.append(key);
    o_ += "\":";
    return *this;
  }
  void Elem() {
    if (!first_) o_ += ',';
    first_ = false;
  }
  void Open(std::string_view key, char bracket) {
    Key(key);
    o_ += bracket;
    first_ = true;
  }
  void OpenElem(char bracket) {
    Elem();
    o_ += bracket;
    first_ = true;
  }
  void Close(char bracket) {
    o_ += bracket;
    first_ = false;
  }
  void Str(std::string_view key, std::string_view value) {
    Key(key);
    Quoted(value);
  }
  void ElemStr(std::string_view value) {
    Elem();
    Quoted(value);
  }
  void Int(std::string_view key, int64_t value) {
    Key(key);
    RawInt(value);
  }
  void Bool(std::string_view key, bool value) {
    Key(key);
    o_.append(value ? "true" : "false");
  }
  // "prefix" + zero-padded digits.
  void Id(std::string_view key, std::string_view prefix, uint64_t value, size_t digits) {
    Key(key);
    o_ += '"';
    o_.append(prefix);
    Padded(value, digits);
    o_ += '"';
  }
  void Hex(std::string_view key, uint64_t value, int digits) {
    Key(key);
    o_ += '"';
    RawHex(value, digits);
    o_ += '"';
  }
  void Time(std::string_view key, int64_t micros) {
    Key(key);
    char buf[kOccurredAtWidth];
    FormatMillisTimestamp(micros, buf);
    o_ += '"';
    o_.append(buf, kOccurredAtWidth);
    o_ += '"';
  }
  void Decimal(std::string_view key, int64_t value, int scale_digits) {
    Key(key);
    if (value < 0) {
      o_ += '-';
      value = -value;
    }
    int64_t div = 1;
    for (int i = 0; i < scale_digits; ++i) div *= 10;
    RawInt(value / div);
    o_ += '.';
    Padded(static_cast<uint64_t>(value % div), static_cast<size_t>(scale_digits));
  }

  void Quoted(std::string_view value) {
    o_ += '"';
    o_.append(value);
    o_ += '"';
  }
  void RawInt(int64_t value) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    o_.append(buf, static_cast<size_t>(r.ptr - buf));
  }
  void Padded(uint64_t value, size_t digits) {
    char buf[24];
    WriteFixedDigits(value, buf, digits);
    o_.append(buf, digits);
  }
  void RawHex(uint64_t value, int digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    char buf[16];
    for (int i = digits - 1; i >= 0; --i) {
      buf[i] = kHex[value & 0xF];
      value >>= 4;
    }
    o_.append(buf, static_cast<size_t>(digits));
  }
  std::string& out() { return o_; }

 private:
  std::string& o_;
  bool first_ = true;
};

constexpr uint8_t kStepCount = 9;  // order.received .. shipment.delivered

EventType StepType(uint8_t step) {
  return static_cast<EventType>(step);
}

// An exception that fits the step the order is about to take.
int ExceptionFor(uint8_t step, uint32_t r) {
  switch (step) {
    case 2:  // allocation
      return r % 3 == 0 ? 1 : 0;
    case 3:
    case 4:  // picking
      return 2 + static_cast<int>(r % 3);
    case 5:  // packing
      return 5 + static_cast<int>(r % 3);
    case 6:  // dispatch
      return 8 + static_cast<int>(r % 2);
    default:  // in transit
      return 10 + static_cast<int>(r % 2);
  }
}

}  // namespace

std::string_view EventTypeName(EventType type) {
  return kTypeNames[static_cast<int>(type)];
}

bool IsFinancial(EventType type) {
  return type == EventType::kPaymentCaptured || type == EventType::kRefundIssued ||
         type == EventType::kCarrierCharge;
}

void WriteFixedDigits(uint64_t value, char* dst, size_t digits) {
  for (size_t i = digits; i > 0; --i) {
    dst[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

void FormatMillisTimestamp(int64_t micros, char* dst) {
  int64_t millis = FloorDiv(micros, kMicrosPerMilli);
  int64_t secs = FloorDiv(millis, 1000);
  FormatSeconds(secs, dst);
  dst[19] = '.';
  WriteFixedDigits(static_cast<uint64_t>(millis - secs * 1000), dst + 20, 3);
  dst[23] = 'Z';
}

void AppendMinuteStart(std::string& out, int64_t micros) {
  char buf[20];
  FormatSeconds(FloorDiv(micros, kMicrosPerMinute) * 60, buf);
  out.append(buf, 19);
  out += 'Z';
}

std::string_view FulfilmentGenerator::WarehouseId(int index) {
  return kWarehousesTable[index].id;
}
std::string_view FulfilmentGenerator::WarehouseCurrency(int index) {
  return kWarehousesTable[index].currency;
}

FulfilmentGenerator::FulfilmentGenerator(uint64_t seed)
    : FulfilmentGenerator(GeneratorOptions{.seed = seed}) {}

FulfilmentGenerator::FulfilmentGenerator(GeneratorOptions options) : options_(std::move(options)) {
  uint64_t x = options_.seed;
  for (uint64_t& s : state_) s = SplitMix(x);
  if (options_.id_tag.empty()) options_.id_tag = std::to_string(options_.seed);
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : options_.id_tag) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  order_tag_ = static_cast<uint32_t>(Mix(h, options_.seed) & 0xFFFF);
  if (!options_.warehouse_id.empty()) {
    fixed_warehouse_ = static_cast<int>(Mix(options_.seed, 7) % kWarehouses);
    AppendJsonString(escaped_warehouse_, options_.warehouse_id);
  }
  if (options_.active_orders == 0) options_.active_orders = 1;
  max_orders_ = options_.active_orders * 4;
  orders_.reserve(max_orders_);
}

uint64_t FulfilmentGenerator::Next() {
  // xoshiro256**
  uint64_t* s = state_;
  const uint64_t result = std::rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = std::rotl(s[3], 45);
  return result;
}

void FulfilmentGenerator::NewOrder(Order& o, int64_t now) {
  std::memset(&o, 0, sizeof o);
  o.number = ++order_counter_;
  o.customer = 10000000 + Next() % 89999999;
  o.created_micros = now;
  o.warehouse =
      static_cast<uint8_t>(fixed_warehouse_ >= 0 ? fixed_warehouse_ : Uniform(kWarehouses));
  o.stage = 0;
  // Mostly single-line orders, some baskets of 2–5, occasionally up to kMaxLines.
  double u = UniformDouble();
  o.line_count = static_cast<uint8_t>(1 + static_cast<int>(std::pow(u, 5) * (kMaxLines - 0.01)));
  int64_t subtotal = 0;
  for (int i = 0; i < o.line_count; ++i) {
    o.lines[i].product = static_cast<uint16_t>(Uniform(kProductCount));
    uint32_t q = Uniform(10);
    o.lines[i].quantity = static_cast<uint8_t>(q < 7 ? 1 : q < 9 ? 2 : 3 + Uniform(4));
    subtotal += LineAmount(o, i);
  }
  o.service = static_cast<uint8_t>(Uniform(10) < 6 ? 1 : Uniform(CountOf(kServices)));
  o.carrier = static_cast<uint8_t>(kWarehousesTable[o.warehouse].carriers[Uniform(3)]);
  o.shipping_minor =
      subtotal >= ScaleMinor(o, 5000) && o.service <= 1 ? 0 : ScaleMinor(o, 295 + 300 * o.service);
  o.total_minor = subtotal + o.shipping_minor;
  o.channel = static_cast<uint8_t>(Uniform(CountOf(kChannels)));
  o.first_name = static_cast<uint8_t>(Uniform(CountOf(kFirstNames)));
  o.last_name = static_cast<uint8_t>(Uniform(CountOf(kLastNames)));
  o.street = static_cast<uint16_t>(Uniform(CountOf(kStreets)));
  o.house = static_cast<uint16_t>(1 + Uniform(240));
  o.city = static_cast<uint8_t>(Uniform(4));
  o.wave = 1000 + Uniform(9000);
  o.tote = 100000 + Uniform(900000);
  o.parcels = static_cast<uint8_t>(1 + (o.line_count > 3 ? Uniform(3) : 0));
}

int64_t FulfilmentGenerator::ScaleMinor(const Order& o, int64_t eur_minor) const {
  int64_t v = eur_minor * kWarehousesTable[o.warehouse].currency_scale_percent / 100;
  return v - v % 5 + (v % 5 != 0 ? 5 : 0) - 1 + (v % 100 == 0 ? 1 : 0);
}

int64_t FulfilmentGenerator::LineAmount(const Order& o, int line) const {
  return ScaleMinor(o, kProducts[o.lines[line].product].price_eur_minor) * o.lines[line].quantity;
}

size_t FulfilmentGenerator::PickOrder(bool& created) {
  size_t n = orders_.size();
  double p_new = n == 0 ? 1.0
                        : std::clamp((1.0 / 9.3) * static_cast<double>(options_.active_orders) /
                                         static_cast<double>(n),
                                     0.02, 0.95);
  if (n < max_orders_ && (n == 0 || Chance(p_new))) {
    orders_.emplace_back();  // within the reserved capacity: no allocation
    created = true;
    return n;
  }
  return Uniform(static_cast<uint32_t>(n));
}

GeneratedEvent FulfilmentGenerator::Append(std::string& out, int64_t now) {
  bool created = false;
  size_t index = PickOrder(created);
  Order& o = orders_[index];
  if (created) NewOrder(o, now);

  EventType type;
  int exception = -1;
  bool done = false;
  if (o.refund != 0) {
    type = EventType::kRefundIssued;
  } else if (o.stage >= 2 && o.stage != 7 && o.exceptions < 2 && Chance(0.03)) {
    type = EventType::kFulfilmentException;
    exception = ExceptionFor(o.stage, Uniform(1000));
  } else {
    type = StepType(o.stage);
  }

  GeneratedEvent info{};
  info.type = type;
  info.begin = out.size();
  info.warehouse_index = o.warehouse;
  WriteEnvelope(out, type, o, now, info);
  WriteBody(out, info.begin, type, o, now, exception);

  // Advance the lifecycle.
  if (type == EventType::kRefundIssued) {
    done = o.refund == 2;
    o.refund = 0;
  } else if (type == EventType::kFulfilmentException) {
    ++o.exceptions;
    if (kExceptions[exception].item_related &&
        std::strcmp(kExceptions[exception].code, "STOCKOUT") == 0 && Chance(0.5)) {
      o.refund = 1;
    }
  } else {
    ++o.stage;
    if (o.stage == kStepCount) {
      if (Chance(0.04)) {
        o.refund = 2;  // a customer return: refunded later, then the order is done
      } else {
        done = true;
      }
    }
  }
  if (done) {
    if (index + 1 != orders_.size()) orders_[index] = orders_.back();
    orders_.pop_back();
  }
  info.size = out.size() - info.begin;
  return info;
}

void FulfilmentGenerator::WriteEnvelope(std::string& out, EventType type, const Order& o,
                                        int64_t now, GeneratedEvent& info) {
  const Warehouse& wh = kWarehousesTable[o.warehouse];
  out += "{\"event_id\":\"evt-";
  out += options_.id_tag;
  out += '-';
  info.counter = ++counter_;
  info.id_counter_offset = out.size();
  char digits[kEventIdDigits];
  WriteFixedDigits(info.counter, digits, kEventIdDigits);
  out.append(digits, kEventIdDigits);
  out += "\",\"event_type\":\"";
  out += EventTypeName(type);
  out += "\",\"schema_version\":3,\"occurred_at\":\"";
  info.occurred_at_offset = out.size();
  char ts[kOccurredAtWidth];
  FormatMillisTimestamp(now, ts);
  out.append(ts, kOccurredAtWidth);
  out += "\",\"warehouse_id\":";
  if (fixed_warehouse_ >= 0) {
    out += escaped_warehouse_;
  } else {
    out += '"';
    out += wh.id;
    out += '"';
  }
  J j(out, /*first=*/false);
  j.Key("order_id");
  out += "\"ORD-";
  info.order_tag_offset = out.size();
  j.RawHex(order_tag_, 4);
  out += '-';
  j.Padded(o.number, 8);
  out += '"';
  const Source& src = kSources[static_cast<int>(type)];
  j.Open("source", '{');
  j.Str("service", src.service);
  j.Key("instance");
  out += '"';
  out += src.service;
  out += '-';
  j.Padded(1 + Uniform(6), 2);
  out += '"';
  j.Str("region", wh.region);
  j.Str("version", src.version);
  j.Close('}');
  j.Key("trace_id");
  out += '"';
  j.RawHex(Next(), 16);
  j.RawHex(Next(), 16);
  out += '"';
  j.Hex("span_id", Next(), 16);
}

void FulfilmentGenerator::WriteAddress(std::string& out, std::string_view key, const Order& o) {
  const Warehouse& wh = kWarehousesTable[o.warehouse];
  J j(out, /*first=*/false);  // inside an object that already has fields
  j.Open(key, '{');
  j.Key("name");
  out += '"';
  out += kFirstNames[o.first_name];
  out += ' ';
  out += kLastNames[o.last_name];
  out += '"';
  j.Key("line1");
  out += '"';
  j.RawInt(o.house);
  out += ' ';
  out += kStreets[o.street];
  out += '"';
  if (o.house % 3 == 0) j.Str("line2", kApartments[o.house % CountOf(kApartments)]);
  j.Str("city", wh.towns[o.city]);
  j.Key("postal_code");
  uint64_t pc = Mix(o.customer, 11);
  out += '"';
  j.Padded(pc % 90000 + 10000, 5);
  out += '"';
  j.Str("country", wh.country);
  j.Key("phone");
  out += "\"+";
  j.Padded(Mix(o.customer, 12) % 100000000000ull, 11);
  out += '"';
  j.Close('}');
}

void FulfilmentGenerator::WriteLines(std::string& out, const Order& o, bool with_bins) {
  J j(out, /*first=*/false);
  j.Open("lines", '[');
  for (int i = 0; i < o.line_count; ++i) {
    const Product& p = kProducts[o.lines[i].product];
    j.OpenElem('{');
    j.Int("line_no", i + 1);
    j.Id("sku", "SKU-", 100000 + static_cast<uint64_t>(o.lines[i].product) * 7919 % 900000, 6);
    if (with_bins) {
      uint64_t h = Mix(o.number, static_cast<uint64_t>(i));
      j.Key("bin");
      out += '"';
      out += static_cast<char>('A' + h % 6);
      out += '-';
      j.Padded(h / 7 % 40 + 1, 2);
      out += '-';
      j.Padded(h / 311 % 12 + 1, 2);
      out += '-';
      out += static_cast<char>('A' + h / 5003 % 5);
      out += '"';
      j.Int("quantity", o.lines[i].quantity);
    } else {
      j.Str("description", p.name);
      j.Str("category", p.category);
      j.Int("quantity", o.lines[i].quantity);
      j.Int("unit_price_minor", ScaleMinor(o, p.price_eur_minor));
      j.Int("weight_g", p.weight_g);
    }
    j.Close('}');
  }
  j.Close(']');
}

void FulfilmentGenerator::WriteBody(std::string& out, size_t begin, EventType type, Order& o,
                                    int64_t now, int exception) {
  const Warehouse& wh = kWarehousesTable[o.warehouse];
  const Carrier& carrier = kCarriers[o.carrier];
  J j(out, /*first=*/false);  // the envelope ended with a field
  auto tracking = [&](std::string_view key) {
    j.Key(key);
    out += '"';
    out += carrier.tracking_prefix;
    j.Padded(Mix(o.number, 99) % 10000000000000000ull, 16);
    out += '"';
  };
  auto psp_reference = [&](std::string_view key) {
    j.Key(key);
    out += '"';
    out += kPsps[o.customer % CountOf(kPsps)];
    out += '_';
    j.RawHex(Mix(o.number, 5), 16);
    out += '"';
  };
  int64_t weight = 0;
  for (int i = 0; i < o.line_count; ++i)
    weight += int64_t{kProducts[o.lines[i].product].weight_g} * o.lines[i].quantity;

  switch (type) {
    case EventType::kOrderReceived: {
      j.Str("channel", kChannels[o.channel]);
      j.Open("customer", '{');
      j.Id("customer_id", "CUS-", o.customer, 8);
      j.Str("tier", kTiers[o.customer % CountOf(kTiers)]);
      j.Str("locale", wh.locale);
      j.Bool("marketing_opt_in", o.customer % 3 == 0);
      j.Close('}');
      j.Str("service_level", kServices[o.service]);
      j.Time("promised_by",
             now + int64_t{86400} * (4 - std::min<int64_t>(o.service, 3)) * kMicrosPerSecond);
      WriteAddress(out, "shipping_address", o);
      if (o.customer % 4 == 0) {
        WriteAddress(out, "billing_address", o);
      } else {
        j.Bool("billing_same_as_shipping", true);
      }
      WriteLines(out, o, false);
      j.Str("currency", wh.currency);
      j.Int("subtotal_minor", o.total_minor - o.shipping_minor);
      j.Int("shipping_minor", o.shipping_minor);
      j.Int("order_total_minor", o.total_minor);
      j.Int("total_weight_g", weight);
      break;
    }
    case EventType::kPaymentCaptured: {
      j.Int("amount_minor", o.total_minor);
      j.Str("currency", wh.currency);
      const char* method = kPaymentMethods[o.customer % CountOf(kPaymentMethods)];
      j.Str("payment_method", method);
      if (std::strcmp(method, "card") == 0) {
        j.Str("card_brand", kCardBrands[o.customer / 7 % CountOf(kCardBrands)]);
        j.Id("card_last4", "", o.customer % 10000, 4);
        j.Bool("three_ds", o.customer % 5 != 0);
      }
      j.Str("psp", kPsps[o.customer % CountOf(kPsps)]);
      psp_reference("psp_reference");
      j.Key("authorization_code");
      out += '"';
      j.RawHex(Mix(o.number, 6), 6);
      out += '"';
      j.Int("risk_score", static_cast<int64_t>(Uniform(60)));
      j.Str("billing_country", wh.country);
      j.Time("authorized_at", now - (1 + Uniform(90)) * kMicrosPerSecond);
      break;
    }
    case EventType::kOrderAllocated: {
      j.Str("allocation_strategy", kStrategies[o.number % CountOf(kStrategies)]);
      j.Id("wave_id", "WAVE-", o.wave, 4);
      j.Key("zone");
      out += '"';
      out += static_cast<char>('A' + o.wave % 6);
      out += '"';
      j.Int("priority", o.service >= 2 ? 1 : 3);
      j.Bool("split_shipment", o.parcels > 1);
      WriteLines(out, o, true);
      break;
    }
    case EventType::kPickStarted:
    case EventType::kPickCompleted: {
      j.Id("picker_id", "EMP-", 10000 + o.wave * 7 % 900, 5);
      j.Id("wave_id", "WAVE-", o.wave, 4);
      j.Id("tote_id", "TOTE-", o.tote, 6);
      j.Id("device_id", "RF-", o.wave % 64, 3);
      j.Key("zone");
      out += '"';
      out += static_cast<char>('A' + o.wave % 6);
      out += '"';
      int units = 0;
      for (int i = 0; i < o.line_count; ++i) units += o.lines[i].quantity;
      if (type == EventType::kPickStarted) {
        j.Int("lines_to_pick", o.line_count);
        j.Int("units_to_pick", units);
        j.Int("pick_path_m", 40 + static_cast<int64_t>(Uniform(400)));
      } else {
        j.Int("lines_picked", o.line_count);
        j.Int("units_picked", units);
        j.Int("short_picks", 0);
        j.Int("duration_s", 30 + o.line_count * 25 + static_cast<int64_t>(Uniform(240)));
      }
      WriteLines(out, o, true);
      break;
    }
    case EventType::kPackCompleted: {
      j.Id("packer_id", "EMP-", 20000 + o.tote % 700, 5);
      j.Id("station_id", "PACK-", o.tote % 24 + 1, 2);
      j.Int("total_weight_g", weight + 180 * o.parcels);
      j.Open("parcels", '[');
      for (int p = 0; p < o.parcels; ++p) {
        uint32_t box = std::min<uint32_t>(CountOf(kBoxTypes) - 1,
                                          static_cast<uint32_t>(weight / o.parcels / 1500 + p % 2));
        j.OpenElem('{');
        j.Key("parcel_id");
        out += "\"PCL-";
        j.RawHex(Mix(o.number, 200 + p), 10);
        out += '"';
        j.Str("box_type", kBoxTypes[box]);
        j.Int("weight_g", weight / o.parcels + 180);
        j.Int("length_mm", 200 + box * 100);
        j.Int("width_mm", 150 + box * 70);
        j.Int("height_mm", 60 + box * 60);
        j.Close('}');
      }
      j.Close(']');
      j.Open("packaging_materials", '[');
      for (uint32_t m = 0, n = 1 + Uniform(3); m < n; ++m)
        j.ElemStr(kMaterials[(o.tote + m) % CountOf(kMaterials)]);
      j.Close(']');
      j.Bool("gift_wrapped", o.customer % 11 == 0);
      break;
    }
    case EventType::kShipmentDispatched: {
      j.Str("carrier", carrier.name);
      j.Str("service_level", kServices[o.service]);
      tracking("tracking_number");
      j.Int("parcels", o.parcels);
      j.Id("dock_door", "DOOR-", 1 + o.wave % 18, 2);
      j.Id("trailer_id", "TRL-", o.wave * 13 % 10000, 4);
      j.Id("seal_number", "SEAL-", Mix(o.wave, 3) % 10000000, 7);
      j.Time("estimated_delivery",
             now + int64_t{3600} * (96 - 24 * std::min<int64_t>(o.service, 3)) * kMicrosPerSecond);
      WriteAddress(out, "ship_to", o);
      break;
    }
    case EventType::kCarrierCharge: {
      int64_t base = ScaleMinor(o, carrier.base_eur_minor + 150 * o.service);
      int64_t weight_charge = ScaleMinor(o, weight / 1000 * 35);
      int64_t fuel = (base + weight_charge) * 12 / 100;
      int64_t remote = o.house % 9 == 0 ? ScaleMinor(o, 250) : 0;
      j.Int("amount_minor", base + weight_charge + fuel + remote);
      j.Str("currency", wh.currency);
      j.Str("carrier", carrier.name);
      tracking("tracking_number");
      j.Key("invoice_reference");
      out += "\"INV-";
      j.Padded(static_cast<uint64_t>(now / kMicrosPerSecond / 86400 / 7), 5);
      out += '-';
      j.Padded(o.carrier, 2);
      out += '"';
      j.Int("billable_weight_g", std::max<int64_t>(weight, 500));
      j.Open("charge_breakdown", '[');
      auto component = [&](std::string_view name, int64_t amount) {
        j.OpenElem('{');
        j.Str("component", name);
        j.Int("amount_minor", amount);
        j.Close('}');
      };
      component("base_rate", base);
      component("weight_surcharge", weight_charge);
      component("fuel_surcharge", fuel);
      if (remote != 0) component("remote_area", remote);
      j.Close(']');
      break;
    }
    case EventType::kShipmentDelivered: {
      j.Str("carrier", carrier.name);
      tracking("tracking_number");
      j.Int("delivery_attempt", o.house % 7 == 0 ? 2 : 1);
      const char* pod = kPodMethods[o.customer % CountOf(kPodMethods)];
      j.Open("proof_of_delivery", '{');
      j.Str("method", pod);
      if (std::strcmp(pod, "signature") == 0) {
        j.Key("signed_by");
        out += '"';
        out += kLastNames[o.last_name];
        out += '"';
      }
      j.Key("geo");
      out += "{\"lat\":";
      j.RawInt(40 + static_cast<int64_t>(o.customer % 20));
      out += '.';
      j.Padded(Mix(o.customer, 1) % 100000, 5);
      out += ",\"lon\":";
      j.RawInt(static_cast<int64_t>(o.customer % 30) - 10);
      out += '.';
      j.Padded(Mix(o.customer, 2) % 100000, 5);
      out += '}';
      j.Close('}');
      j.Str("delivered_to", kDeliveredTo[o.customer % CountOf(kDeliveredTo)]);
      j.Int("transit_hours", 12 + static_cast<int64_t>(Uniform(60)));
      j.Bool("on_time", Uniform(100) < 93);
      break;
    }
    case EventType::kFulfilmentException: {
      const ExceptionKind& e = kExceptions[exception];
      j.Str("exception_code", e.code);
      j.Str("severity", e.severities[Uniform(4) == 0 ? 1 : 0]);
      j.Str("stage", e.stage);
      j.Str("description", e.description);
      j.Id("ticket_id", "INC-", Mix(o.number, 300 + o.exceptions) % 1000000, 6);
      j.Id("reported_by", "EMP-", 10000 + Uniform(900), 5);
      j.Bool("requires_action", e.severities[0][0] == 'h' || e.severities[0][0] == 'c');
      if (e.item_related && o.line_count > 0) {
        o.refund_line = static_cast<uint8_t>(Uniform(o.line_count));
        j.Id("sku", "SKU-",
             100000 + static_cast<uint64_t>(o.lines[o.refund_line].product) * 7919 % 900000, 6);
      }
      if (o.stage >= 7) tracking("tracking_number");
      break;
    }
    case EventType::kRefundIssued: {
      bool full = o.refund == 2;
      int64_t amount = full ? o.total_minor : LineAmount(o, o.refund_line);
      j.Int("amount_minor", amount);
      j.Str("currency", wh.currency);
      j.Key("refund_id");
      out += "\"RFD-";
      j.RawHex(Mix(o.number, 400), 12);
      out += '"';
      j.Str("reason", full ? "customer_return" : "stockout");
      psp_reference("original_psp_reference");
      j.Str("method", "original_payment_method");
      j.Open("lines", '[');
      for (int i = 0; i < o.line_count; ++i) {
        if (!full && i != o.refund_line) continue;
        j.OpenElem('{');
        j.Id("sku", "SKU-", 100000 + static_cast<uint64_t>(o.lines[i].product) * 7919 % 900000, 6);
        j.Int("quantity", o.lines[i].quantity);
        j.Int("refund_minor", LineAmount(o, i));
        j.Close('}');
      }
      j.Close(']');
      break;
    }
  }

  // Metadata, then free-text notes up to a target size drawn from a skewed distribution
  // (median ~1.6 KB, 0.85–3.1 KB).
  j.Open("metadata", '{');
  j.Str("schema", "fulfilment/v3");
  j.Str("site", wh.site);
  j.Str("timezone", wh.timezone);
  j.Id("producer_seq", "", counter_, 10);
  j.Open("tags", '[');
  for (uint32_t t = 0, n = Uniform(4), first = Uniform(CountOf(kTags)); t < n; ++t)
    j.ElemStr(kTags[(first + 5 * t) % CountOf(kTags)]);
  j.Close(']');
  j.Close('}');
  double u = UniformDouble();
  size_t target = 960 + static_cast<size_t>(2140.0 * std::pow(u, 1.7));
  WritePadding(out, begin, target, now);
  out += '}';
}

void FulfilmentGenerator::WritePadding(std::string& out, size_t begin, size_t target, int64_t now) {
  // A few free-text notes, then an audit trail of earlier actions on the order, until the
  // event is within ~60 bytes of `target`.
  auto size = [&] { return out.size() - begin + 1; };  // + the closing brace
  if (size() + 80 >= target) return;
  J j(out, /*first=*/false);
  j.Key("notes");
  out += '"';
  bool first = true;
  for (int attempts = 0, added = 0; attempts < 6 && added < 3; ++attempts) {
    std::string_view note = kNotes[Uniform(CountOf(kNotes))];
    if (size() + note.size() + 2 > target) continue;
    if (!first) out += ' ';
    out += note;
    first = false;
    ++added;
  }
  out += '"';
  constexpr size_t kEntryMax = 125;  // the longest history entry, with its comma
  if (size() + 20 + kEntryMax > target) return;
  j.Open("history", '[');
  int64_t at = now - (1 + Uniform(3600)) * kMicrosPerSecond;
  while (size() + 2 + kEntryMax <= target) {
    j.OpenElem('{');
    j.Time("at", at);
    at += (1 + Uniform(300)) * kMicrosPerSecond / 7;
    j.Key("actor");
    const Source& src = kSources[Uniform(kEventTypeCount)];
    out += '"';
    out += src.service;
    out += '-';
    j.Padded(1 + Uniform(6), 2);
    out += '"';
    j.Str("action", kActions[Uniform(CountOf(kActions))]);
    j.Hex("ref", Next(), 12);
    j.Close('}');
  }
  j.Close(']');
}

// ---- Rate schedule ----

Result<Schedule> ParseSchedule(std::string_view name) {
  if (name == "shift") return Schedule::kShift;
  if (name == "flat") return Schedule::kFlat;
  if (name == "peak") return Schedule::kPeak;
  return Status::InvalidArgument(
      fmt::format("unknown schedule '{}' (expected shift, flat or peak)", name));
}

namespace {
constexpr double kShiftHours[] = {6, 14, 22};
constexpr double kSpikeBefore = 5 * 60;  // seconds before the shift change
constexpr double kSpikeAfter = 15 * 60;  // seconds after
constexpr double kSpikeRamp = 2 * 60;    // linear ramp at each edge
// Effective full-rate seconds per spike: plateau + half of both ramps.
constexpr double kSpikeEffective = kSpikeBefore + kSpikeAfter - kSpikeRamp;
// The base rate outside spikes that makes the 24-hour average kAverageRate. The day/night
// modulation sums to zero at the three (equally spaced) shift changes, so it cancels out.
constexpr double kBaseRate =
    (kAverageRate * 86400 - kPeakRate * 3 * kSpikeEffective) / (86400 - 3 * kSpikeEffective);
}  // namespace

double ScheduledRate(Schedule schedule, int64_t schedule_micros) {
  switch (schedule) {
    case Schedule::kFlat:
      return kAverageRate;
    case Schedule::kPeak:
      return kPeakRate;
    case Schedule::kShift:
      break;
  }
  double sod = static_cast<double>(schedule_micros -
                                   FloorDiv(schedule_micros, kMicrosPerDay) * kMicrosPerDay) /
               kMicrosPerSecond;
  double spike = 0;
  for (double hour : kShiftHours) {
    double d = sod - hour * 3600;
    if (d < -43200) d += 86400;
    if (d >= 43200) d -= 86400;
    if (d < -kSpikeBefore || d > kSpikeAfter) continue;
    spike = std::min({1.0, (d + kSpikeBefore) / kSpikeRamp, (kSpikeAfter - d) / kSpikeRamp});
  }
  constexpr double kPi = 3.14159265358979323846;
  // Busiest mid-afternoon, quietest around 03:00.
  double base = kBaseRate * (1 + 0.35 * std::sin(2 * kPi * (sod - 9 * 3600) / 86400));
  return spike * kPeakRate + (1 - spike) * base;
}

Result<int64_t> ParseTimeOfDayBefore(std::string_view text, int64_t now_micros) {
  unsigned h = 0, m = 0;
  auto digits = [&](size_t pos, unsigned& v) {
    if (pos + 2 > text.size() || !std::isdigit(static_cast<unsigned char>(text[pos])) ||
        !std::isdigit(static_cast<unsigned char>(text[pos + 1])))
      return false;
    v = static_cast<unsigned>((text[pos] - '0') * 10 + (text[pos + 1] - '0'));
    return true;
  };
  if (text.size() != 5 || text[2] != ':' || !digits(0, h) || !digits(3, m) || h > 23 || m > 59)
    return Status::InvalidArgument(
        fmt::format("'{}' is not a time of day (expected HH:MM, UTC)", text));
  int64_t day = FloorDiv(now_micros, kMicrosPerDay) * kMicrosPerDay;
  int64_t t = day + (h * 3600 + m * 60) * kMicrosPerSecond;
  if (t > now_micros) t -= kMicrosPerDay;
  return t;
}

}  // namespace sluice::app
