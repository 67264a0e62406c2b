// Registry, families and the text exposition format 0.0.4.
#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <type_traits>

namespace moor::metrics {

// ---- children ---------------------------------------------------------------

void Counter::Inc(double v) {
  if (!(v >= 0)) return;  // counters only go up (NaN and negatives ignored)
  v_.fetch_add(v, std::memory_order_relaxed);
}
double Counter::Value() const { return v_.load(std::memory_order_relaxed); }

void Gauge::Set(double v) { v_.store(v, std::memory_order_relaxed); }
void Gauge::Add(double v) { v_.fetch_add(v, std::memory_order_relaxed); }
double Gauge::Value() const { return v_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  // Ascending and unique, without NaN or +Inf (the +Inf bucket is implied).
  std::erase_if(bounds_, [](double b) { return std::isnan(b) || std::isinf(b); });
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::Observe(double v) {
  // Buckets hold non-cumulative counts; Take() sums them. "le" is inclusive.
  if (std::isnan(v)) return;  // would poison _sum for good
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.upper_bounds = bounds_;
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(acc);
  }
  s.count = acc;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <class T>
T& Family<T>::With(const std::vector<std::string>& values) {
  std::vector<std::string> key = values;
  key.resize(label_names_.size());
  std::lock_guard lock(mu_);
  auto it = children_.find(key);
  if (it == children_.end()) {
    std::unique_ptr<T> child;
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(buckets_);
    } else {
      child = std::make_unique<T>();
    }
    it = children_.emplace(std::move(key), std::move(child)).first;
  }
  return *it->second;
}

template <class T>
void Family<T>::Remove(const std::vector<std::string>& values) {
  std::vector<std::string> key = values;
  key.resize(label_names_.size());
  std::lock_guard lock(mu_);
  children_.erase(key);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- text helpers -------------------------------------------------------------

// Length of the valid UTF-8 sequence at v[i], 0 when it is not one.
static size_t Utf8Len(std::string_view v, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(v[k]); };
  unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > v.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
  }
  if (n == 2 && c < 0xc2) return 0;                                  // overlong
  if (n == 3 && c == 0xe0 && b(i + 1) < 0xa0) return 0;              // overlong
  if (n == 3 && c == 0xed && b(i + 1) >= 0xa0) return 0;             // surrogates
  if (n == 4 && (c > 0xf4 || (c == 0xf0 && b(i + 1) < 0x90) || (c == 0xf4 && b(i + 1) >= 0x90))) return 0;
  return n;
}

// Label values are UTF-8 in the text format: invalid bytes (a label set
// from anything) become U+FFFD, or Prometheus would reject the whole scrape.
std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size();) {
    char c = v[i];
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else {
      size_t n = Utf8Len(v, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";
        ++i;
        continue;
      }
      out.append(v, i, n);
      i += n;
      continue;
    }
    ++i;
  }
  return out;
}

namespace {

// HELP text escapes only backslash and newline.
std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

bool NameChar(char c, bool first, bool colon) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers as integers ("3", not "3e+00"), as far as a double is exact.
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip
  return std::string(buf, r.ptr);
}

bool ValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!NameChar(name[i], i == 0, true)) return false;
  }
  return true;
}

bool ValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!NameChar(name[i], i == 0, false)) return false;
  }
  return true;
}

// ---- rendering -----------------------------------------------------------------

namespace {

void AppendLabels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                  const char* extra_name = nullptr, const std::string& extra_value = "") {
  if (names.empty() && !extra_name) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(i < values.size() ? values[i] : "");
    out += '"';
  }
  if (extra_name) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendHeader(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += EscapeHelp(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

bool ValidFamily(const std::string& name, const std::vector<std::string>& labels, bool histogram) {
  if (!ValidMetricName(name)) return false;
  std::set<std::string> seen;
  for (const auto& l : labels) {
    if (!ValidLabelName(l) || !seen.insert(l).second) return false;
    if (histogram && l == "le") return false;  // the renderer adds it
  }
  return true;
}

// Buffers one collector's output and checks it as it goes.
class CheckingWriter : public SampleWriter {
 public:
  CheckingWriter(const std::set<std::string>& taken) : taken_(taken) {}

  void Family(std::string_view name, std::string_view type, std::string_view help) override {
    std::string n(name);
    bool ok = ValidMetricName(n) && (type == "counter" || type == "gauge" || type == "untyped") &&
              !taken_.contains(n) && !mine_.contains(n);
    if (!ok) {
      ++errors;
      current_ok_ = false;
      have_family_ = true;
      return;
    }
    mine_.insert(n);
    name_ = std::move(n);
    current_ok_ = true;
    have_family_ = true;
    AppendHeader(out, name_, type, help);
  }

  void Sample(const Labels& labels, double value) override {
    if (!have_family_) {
      ++errors;
      return;
    }
    if (!current_ok_) return;  // the family was already counted as one error
    std::set<std::string_view> seen;
    for (const auto& [k, v] : labels) {
      if (!ValidLabelName(k) || !seen.insert(k).second) {
        ++errors;
        return;
      }
    }
    out += name_;
    if (!labels.empty()) {
      out += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i) out += ',';
        out += labels[i].first;
        out += "=\"";
        out += EscapeLabelValue(labels[i].second);
        out += '"';
      }
      out += '}';
    }
    out += ' ';
    out += FormatValue(value);
    out += '\n';
  }

  const std::set<std::string>& names() const { return mine_; }

  std::string out;
  int errors = 0;

 private:
  const std::set<std::string>& taken_;
  std::set<std::string> mine_;
  std::string name_;
  bool have_family_ = false, current_ok_ = false;
};

void RenderScalarFamily(std::string& out, std::string_view type, const std::string& name,
                        const std::string& help, const std::vector<std::string>& label_names,
                        const std::map<std::vector<std::string>, double>& values) {
  AppendHeader(out, name, type, help);
  for (const auto& [vals, v] : values) {
    out += name;
    AppendLabels(out, label_names, vals);
    out += ' ';
    out += FormatValue(v);
    out += '\n';
  }
}

}  // namespace

Registry::Registry() {
  errors_ = &AddCounter("moor_metrics_collector_errors_total",
                        "Metrics skipped because a collector or a registration produced invalid output.", {})
                 .With({});
}

void Registry::CountError() {
  if (errors_) errors_->Inc();
}

template <class T>
Family<T>& Registry::Add(std::vector<std::unique_ptr<Family<T>>>& list, std::vector<std::unique_ptr<Family<T>>>& detached,
                         std::string name, std::string help, std::vector<std::string> label_names,
                         std::vector<double> buckets) {
  auto f = std::make_unique<Family<T>>();
  f->name_ = std::move(name);
  f->help_ = std::move(help);
  f->label_names_ = std::move(label_names);
  f->buckets_ = std::move(buckets);
  bool valid = ValidFamily(f->name_, f->label_names_, std::is_same_v<T, Histogram>);
  std::unique_lock lock(mu_);
  if (valid) {
    for (auto& existing : list) {
      if (existing->name_ == f->name_ && existing->label_names_ == f->label_names_ &&
          existing->buckets_ == f->buckets_) {
        return *existing;
      }
    }
    if (std::find(rendered_names_.begin(), rendered_names_.end(), f->name_) == rendered_names_.end()) {
      rendered_names_.push_back(f->name_);
      // An unlabelled series exists from the start (a counter reads 0, not absent).
      if (f->label_names_.empty()) f->With({});
      list.push_back(std::move(f));
      return *list.back();
    }
  }
  detached.push_back(std::move(f));
  Family<T>& d = *detached.back();
  lock.unlock();
  CountError();
  return d;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
  return Add(counters_, detached_counters_, std::move(name), std::move(help), std::move(label_names), {});
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return Add(gauges_, detached_gauges_, std::move(name), std::move(help), std::move(label_names), {});
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                          std::vector<double> upper_bounds) {
  // Normalised like Histogram does, so equal registrations compare equal.
  Histogram probe(upper_bounds);
  return Add(histograms_, detached_histograms_, std::move(name), std::move(help), std::move(label_names),
             probe.Take().upper_bounds);
}

int Registry::AddCollector(Collector c) {
  std::lock_guard lock(mu_);
  int id = next_collector_++;
  collectors_.emplace_back(id, std::move(c));
  return id;
}

void Registry::RemoveCollector(int id) {
  std::lock_guard collecting(collect_mu_);
  std::lock_guard lock(mu_);
  std::erase_if(collectors_, [id](const auto& p) { return p.first == id; });
}

std::string Registry::Render() {
  std::lock_guard collecting(collect_mu_);
  std::vector<std::pair<int, Collector>> collectors;
  std::set<std::string> taken;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
    taken.insert(rendered_names_.begin(), rendered_names_.end());
  }
  // Collectors first (their errors count in this scrape), rendered last.
  std::string collected;
  for (auto& [id, fn] : collectors) {
    CheckingWriter w(taken);
    bool threw = false;
    try {
      fn(w);
    } catch (...) {
      threw = true;
    }
    for (int i = 0; i < w.errors; ++i) CountError();
    if (threw) {
      CountError();
      continue;  // partial output is dropped
    }
    taken.insert(w.names().begin(), w.names().end());
    collected += w.out;
  }

  // Registered families, sorted by name. Values are copied under each
  // family's mutex, then formatted without it.
  struct Item {
    const std::string* name;
    std::function<void(std::string&)> render;
  };
  std::vector<Item> items;
  std::unique_lock lock(mu_);
  for (auto& f : counters_) {
    items.push_back({&f->name_, [fp = f.get()](std::string& out) {
                       std::map<std::vector<std::string>, double> vals;
                       {
                         std::lock_guard l(fp->mu_);
                         for (auto& [k, c] : fp->children_) vals[k] = c->Value();
                       }
                       RenderScalarFamily(out, "counter", fp->name_, fp->help_, fp->label_names_, vals);
                     }});
  }
  for (auto& f : gauges_) {
    items.push_back({&f->name_, [fp = f.get()](std::string& out) {
                       std::map<std::vector<std::string>, double> vals;
                       {
                         std::lock_guard l(fp->mu_);
                         for (auto& [k, g] : fp->children_) vals[k] = g->Value();
                       }
                       RenderScalarFamily(out, "gauge", fp->name_, fp->help_, fp->label_names_, vals);
                     }});
  }
  for (auto& f : histograms_) {
    items.push_back({&f->name_, [fp = f.get()](std::string& out) {
                       std::vector<std::pair<std::vector<std::string>, Histogram::Snapshot>> snaps;
                       {
                         std::lock_guard l(fp->mu_);
                         for (auto& [k, h] : fp->children_) snaps.emplace_back(k, h->Take());
                       }
                       AppendHeader(out, fp->name_, "histogram", fp->help_);
                       for (auto& [k, s] : snaps) {
                         for (size_t i = 0; i < s.cumulative.size(); ++i) {
                           bool inf = i == s.upper_bounds.size();
                           out += fp->name_;
                           out += "_bucket";
                           AppendLabels(out, fp->label_names_, k, "le",
                                        inf ? "+Inf" : FormatValue(s.upper_bounds[i]));
                           out += ' ';
                           out += std::to_string(s.cumulative[i]);
                           out += '\n';
                         }
                         out += fp->name_;
                         out += "_sum";
                         AppendLabels(out, fp->label_names_, k);
                         out += ' ';
                         out += FormatValue(s.sum);
                         out += '\n';
                         out += fp->name_;
                         out += "_count";
                         AppendLabels(out, fp->label_names_, k);
                         out += ' ';
                         out += std::to_string(s.count);
                         out += '\n';
                       }
                     }});
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return *a.name < *b.name; });
  // Families are never removed, so rendering after unlocking is safe.
  lock.unlock();
  std::string out;
  for (auto& it : items) it.render(out);
  out += collected;
  return out;
}

Registry& DefaultRegistry() {
  static Registry* r = new Registry();  // never destroyed: threads may record during exit
  return *r;
}

}  // namespace moor::metrics
