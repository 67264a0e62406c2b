// Prometheus metrics: a registry of counter, gauge and histogram families with
// labels, plus collectors that produce series at scrape time (container
// resources, PHP-FPM pools), rendered in the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Why not prometheus-cpp: the daemon already serves HTTP, most series here are
// computed at scrape time (cgroup files, FastCGI status pages), and the text
// format is small; docs/design/observability.md has the reasons.
//
// Thread-safety: every method may be called from any thread. Updating a
// child (Inc/Set/Observe) is lock-free (atomics); creating a child takes the
// family's mutex once, so callers keep the reference.
//
// Mistakes never produce invalid output: a family with an invalid name, or
// registered again with another type or other label names, is a detached
// family (usable, never rendered); a collector's invalid or duplicate family,
// invalid label name or sample without a family is skipped. Each such
// mistake counts in moor_metrics_collector_errors_total.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace moor::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;  // name → value, in family order

class Counter {
 public:
  void Inc(double v = 1);  // v ≥ 0
  double Value() const;

 private:
  std::atomic<double> v_{0};
};

class Gauge {
 public:
  void Set(double v);
  void Add(double v);
  double Value() const;

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending, +Inf implied
  void Observe(double v);
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf last (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Default latency buckets in seconds: 0.5 ms … 10 s.
std::vector<double> LatencyBuckets();

template <class T>
class Family {
 public:
  // values: one per label name, in the order the family was declared with
  // (missing values are "", extra ones dropped).
  T& With(const std::vector<std::string>& values);
  // Forget one child (a removed container's series).
  void Remove(const std::vector<std::string>& values);

 private:
  friend class Registry;
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;  // histograms
  std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// What a collector writes at scrape time: one Family() call per metric, then
// its samples. Names and label names must be valid Prometheus names; label
// values are escaped by the renderer.
class SampleWriter {
 public:
  virtual ~SampleWriter() = default;
  // type: "counter" | "gauge" | "untyped".
  virtual void Family(std::string_view name, std::string_view type, std::string_view help) = 0;
  virtual void Sample(const Labels& labels, double value) = 0;
};

using Collector = std::function<void(SampleWriter&)>;

class Registry {
 public:
  Registry();  // registers moor_metrics_collector_errors_total
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering a name again with the same type and label names returns the
  // existing family (modules may register independently).
  Family<Counter>& AddCounter(std::string name, std::string help, std::vector<std::string> label_names);
  Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> label_names);
  Family<Histogram>& AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                  std::vector<double> upper_bounds = LatencyBuckets());
  // Returns an id for RemoveCollector. Collectors run in registration order on
  // the scraping thread, one scrape at a time; one that throws is skipped
  // (and counted). RemoveCollector waits for a running scrape, so what the
  // collector captured may be destroyed after it returns (never call it from
  // a collector).
  int AddCollector(Collector c);
  void RemoveCollector(int id);

  // The whole exposition (text format 0.0.4): registered families first, then
  // each collector's. Content-Type: "text/plain; version=0.0.4; charset=utf-8".
  std::string Render();

 private:
  template <class T>
  Family<T>& Add(std::vector<std::unique_ptr<Family<T>>>& list, std::vector<std::unique_ptr<Family<T>>>& detached,
                 std::string name, std::string help, std::vector<std::string> label_names,
                 std::vector<double> buckets);
  void CountError();

  std::mutex mu_;
  std::mutex collect_mu_;  // held while collectors run (Render, RemoveCollector)
  std::vector<std::string> rendered_names_;  // names registered families own (guarded by mu_)
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::pair<int, Collector>> collectors_;
  // Detached families (invalid or conflicting registrations): kept alive, never rendered.
  std::vector<std::unique_ptr<Family<Counter>>> detached_counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> detached_gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> detached_histograms_;
  int next_collector_ = 1;
  Counter* errors_ = nullptr;
};

// The daemon's one registry (engine, discovery, deploy and logship record into it).
Registry& DefaultRegistry();

// Text-format helpers (pure; also used by tests to parse what they render).
std::string EscapeLabelValue(std::string_view v);  // \\ \" \n
std::string FormatValue(double v);                 // "+Inf", "-Inf", "NaN", shortest round-trip
bool ValidMetricName(std::string_view name);       // [a-zA-Z_:][a-zA-Z0-9_:]*
bool ValidLabelName(std::string_view name);        // [a-zA-Z_][a-zA-Z0-9_]*, not "__" prefixed

}  // namespace moor::metrics
