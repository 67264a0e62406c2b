// The DNS server's fast path: recognising a plain query from its first
// bytes, and replies kept as encoded records (one wire slice per record,
// encoded by ldns) so a cached answer can be reshuffled, truncated to the
// client's size and given the query's ID without building a packet again.
// The few header fields read or patched here (ID, flags, counts, the
// question's extent, the OPT record's UDP size) are the only wire
// knowledge outside ldns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "discovery/dns_answer.h"

namespace moor::discovery {

// What the fast path needs of a query with one question, no answer or
// authority records and at most an OPT record.
struct SimpleQuery {
  std::string key;            // the question lower-cased (name, type, class)
  size_t question_end = 0;    // offset just after the question
  bool edns = false;
  uint16_t udp_size = 512;    // the client's EDNS size (512 without EDNS)
};
// nullopt: not a plain query (ldns takes it from there).
std::optional<SimpleQuery> ParseSimpleQuery(const uint8_t* q, size_t n);

struct CachedAnswer {
  uint64_t index = 0;  // Catalog::Index() it was built at
  bool forward = false;
  bool shuffle = false;
  uint8_t header[2] = {};  // bytes 2..3 of the response: flags and rcode
  struct Record {
    std::string rr;     // the answer record
    std::string extra;  // its additional record (an SRV target's A), or ""
  };
  std::vector<Record> answers;
  std::vector<std::string> authority, additional;
};
CachedAnswer MakeCachedAnswer(const DnsAnswer& a, uint64_t index);

struct AssembleResult {
  size_t size = 0;
  bool truncated = false;
};
// Writes the reply to `query` (its ID, RD and CD, its own question bytes up
// to question_end) into out[0..limit): as many answers as fit (TC when
// some do not), then authority and additional records while they fit, and
// an OPT record when the query had one. limit ≥ 512.
AssembleResult Assemble(const CachedAnswer& a, const uint8_t* query, const SimpleQuery& sq, uint8_t* out,
                        size_t limit, std::minstd_rand& rng);

// Encodes a whole ldns packet (slow path: unusual queries, errors); when it
// exceeds `limit` the records are dropped and TC set.
size_t EncodePacket(ldns_pkt* p, uint8_t* out, size_t limit, bool* truncated);

// A per-thread cache (no locking): entries older than the catalog's index
// are rebuilt; the whole map is dropped when it grows past max_entries.
class AnswerCache {
 public:
  explicit AnswerCache(size_t max_entries = 20000) : max_(max_entries) {}
  const CachedAnswer* Find(const std::string& key, uint64_t index) const {
    auto it = map_.find(key);
    return it != map_.end() && it->second.index == index ? &it->second : nullptr;
  }
  const CachedAnswer* Put(const std::string& key, CachedAnswer a) {
    if (map_.size() >= max_) map_.clear();
    return &(map_[key] = std::move(a));
  }

 private:
  size_t max_;
  std::unordered_map<std::string, CachedAnswer> map_;
};

}  // namespace moor::discovery
