#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

namespace moor::metrics {
namespace {

// A strict reader of the text format: every sample must follow the # TYPE of
// its family (histograms: NAME_bucket/_sum/_count), each family appears once,
// label values are unescaped. Returns series "name{a=\"x\",...}" → value.
struct Parsed {
  std::map<std::string, double> series;
  std::vector<std::string> families;  // in order
  std::map<std::string, std::string> types, helps;
  std::string error;
};

std::string Unescape(std::string_view v, bool* ok) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\') {
      out += v[i];
      continue;
    }
    if (++i >= v.size()) { *ok = false; return out; }
    if (v[i] == 'n') out += '\n';
    else if (v[i] == '\\' || v[i] == '"') out += v[i];
    else *ok = false;
  }
  return out;
}

Parsed Parse(const std::string& text) {
  Parsed p;
  std::string family, type;
  size_t pos = 0;
  if (!text.empty() && text.back() != '\n') p.error = "no final newline";
  while (pos < text.size() && p.error.empty()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (line.starts_with("# HELP ")) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      family = rest.substr(0, sp);
      if (std::find(p.families.begin(), p.families.end(), family) != p.families.end()) {
        p.error = "family twice: " + family;
        break;
      }
      p.families.push_back(family);
      bool ok = true;
      p.helps[family] = Unescape(rest.substr(sp + 1), &ok);
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      if (rest.substr(0, sp) != family) { p.error = "TYPE without HELP: " + line; break; }
      type = rest.substr(sp + 1);
      p.types[family] = type;
      continue;
    }
    // name{labels} value
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    std::string name = line.substr(0, i);
    if (!ValidMetricName(name)) { p.error = "bad name: " + line; break; }
    bool belongs = name == family ||
                   (type == "histogram" && (name == family + "_bucket" || name == family + "_sum" ||
                                            name == family + "_count"));
    if (!belongs || type.empty()) { p.error = "sample outside its family: " + line; break; }
    std::string key = name;
    if (i < line.size() && line[i] == '{') {
      key += '{';
      ++i;
      bool first = true;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') { p.error = "bad labels: " + line; break; }
        std::string lname = line.substr(i, eq - i);
        if (!ValidLabelName(lname) && lname != "le") { p.error = "bad label name: " + line; break; }
        size_t j = eq + 2;
        while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
        if (j >= line.size()) { p.error = "unterminated value: " + line; break; }
        bool ok = true;
        std::string val = Unescape(std::string_view(line).substr(eq + 2, j - eq - 2), &ok);
        if (!ok) { p.error = "bad escape: " + line; break; }
        if (!first) key += ',';
        first = false;
        key += lname + "=\"" + val + "\"";
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (!p.error.empty()) break;
      if (i >= line.size()) { p.error = "unterminated labels: " + line; break; }
      key += '}';
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') { p.error = "no value: " + line; break; }
    std::string v = line.substr(i + 1);
    double d = 0;
    if (v == "+Inf") d = INFINITY;
    else if (v == "-Inf") d = -INFINITY;
    else if (v == "NaN") d = NAN;
    else {
      size_t used = 0;
      try { d = std::stod(v, &used); } catch (...) { used = 0; }
      if (used != v.size() || v.empty()) { p.error = "bad value: " + line; break; }
    }
    if (p.series.contains(key)) { p.error = "series twice: " + key; break; }
    p.series[key] = d;
  }
  return p;
}

double Errors(const Parsed& p) { return p.series.at("moor_metrics_collector_errors_total"); }

TEST(Text, EscapeAndFormat) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  // Invalid UTF-8 becomes U+FFFD (Prometheus rejects a scrape with it); valid stays.
  EXPECT_EQ(EscapeLabelValue(std::string("a\xff" "b\xc3")), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
  EXPECT_EQ(EscapeLabelValue("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatValue(NAN), "NaN");
  EXPECT_EQ(std::stod(FormatValue(1.0 / 3)), 1.0 / 3);  // round trip
}

TEST(Text, Names) {
  EXPECT_TRUE(ValidMetricName("moor_x:y_total"));
  EXPECT_TRUE(ValidMetricName("_a"));
  EXPECT_FALSE(ValidMetricName(""));
  EXPECT_FALSE(ValidMetricName("1abc"));
  EXPECT_FALSE(ValidMetricName("a-b"));
  EXPECT_FALSE(ValidMetricName("a b"));
  EXPECT_TRUE(ValidLabelName("app"));
  EXPECT_FALSE(ValidLabelName("a:b"));
  EXPECT_FALSE(ValidLabelName("__name__"));
  EXPECT_FALSE(ValidLabelName("9x"));
  EXPECT_FALSE(ValidLabelName(""));
}

TEST(Registry, CounterGaugeRenderAndParseBack) {
  Registry r;
  auto& c = r.AddCounter("moor_b_total", "B things.", {"app", "result"});
  auto& g = r.AddGauge("moor_a", "A level\nwith \\ newline.", {});
  c.With({"web", "ok"}).Inc();
  c.With({"web", "ok"}).Inc(2.5);
  c.With({"we\"ird\\\nname", "fail"}).Inc();
  c.With({"web", "ok"}).Inc(-5);  // ignored
  g.With({}).Set(7);
  g.With({}).Add(-2);
  auto p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.series.at("moor_b_total{app=\"web\",result=\"ok\"}"), 3.5);
  EXPECT_EQ(p.series.at("moor_b_total{app=\"we\"ird\\\nname\",result=\"fail\"}"), 1);
  EXPECT_EQ(p.series.at("moor_a"), 5);
  EXPECT_EQ(p.types.at("moor_b_total"), "counter");
  EXPECT_EQ(p.types.at("moor_a"), "gauge");
  EXPECT_EQ(p.helps.at("moor_a"), "A level\nwith \\ newline.");
  // Sorted by name.
  EXPECT_EQ(p.families, (std::vector<std::string>{"moor_a", "moor_b_total", "moor_metrics_collector_errors_total"}));
  EXPECT_EQ(Errors(p), 0);
}

TEST(Registry, SameRegistrationReturnsSameFamily) {
  Registry r;
  auto& a = r.AddCounter("moor_x_total", "x", {"k"});
  auto& b = r.AddCounter("moor_x_total", "x", {"k"});
  EXPECT_EQ(&a, &b);
  a.With({"1"}).Inc();
  b.With({"1"}).Inc();
  auto p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.series.at("moor_x_total{k=\"1\"}"), 2);
}

TEST(Registry, ConflictsAndBadNamesAreDetachedAndCounted) {
  Registry r;
  r.AddCounter("moor_x_total", "x", {"k"}).With({"1"}).Inc();
  r.AddGauge("moor_x_total", "other type", {"k"}).With({"1"}).Set(9);      // conflict
  r.AddCounter("moor_x_total", "other labels", {"j"}).With({"1"}).Inc(5);  // conflict
  r.AddCounter("bad-name", "x", {}).With({}).Inc();
  r.AddGauge("moor_ok", "x", {"bad label"}).With({"v"}).Set(1);
  r.AddHistogram("moor_h", "x", {"le"}).With({"1"}).Observe(1);
  auto p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(Errors(p), 5);
  EXPECT_EQ(p.series.at("moor_x_total{k=\"1\"}"), 1);
  EXPECT_FALSE(p.types.contains("moor_ok"));
  EXPECT_FALSE(p.types.contains("moor_h"));
}

TEST(Registry, WrongNumberOfValues) {
  Registry r;
  auto& f = r.AddGauge("moor_g", "g", {"a", "b"});
  f.With({"x"}).Set(1);
  f.With({"y", "z", "extra"}).Set(2);
  auto p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.series.at("moor_g{a=\"x\",b=\"\"}"), 1);
  EXPECT_EQ(p.series.at("moor_g{a=\"y\",b=\"z\"}"), 2);
}

TEST(Registry, RemoveChild) {
  Registry r;
  auto& f = r.AddGauge("moor_g", "g", {"c"});
  f.With({"a"}).Set(1);
  f.With({"b"}).Set(2);
  f.Remove({"a"});
  f.Remove({"never"});
  auto p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_FALSE(p.series.contains("moor_g{c=\"a\"}"));
  EXPECT_EQ(p.series.at("moor_g{c=\"b\"}"), 2);
}

TEST(Registry, LabelledFamilyWithoutChildrenHasOnlyHeader) {
  Registry r;
  r.AddCounter("moor_pulls_total", "p", {"result"});
  r.AddCounter("moor_lines_total", "l", {});
  auto text = r.Render();
  auto p = Parse(text);
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.types.at("moor_pulls_total"), "counter");
  EXPECT_EQ(p.series.at("moor_lines_total"), 0);  // unlabelled: present from the start
}

TEST(Histogram, BucketsAreCumulativeAndInclusive) {
  Histogram h({1, 0.5, 2, 2});  // unsorted, duplicate: normalised
  for (double v : {0.1, 0.5, 0.7, 1.0, 3.0, 100.0, double(NAN)}) h.Observe(v);  // NaN ignored
  auto s = h.Take();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{0.5, 1, 2}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 4, 6}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.sum, 105.3);
}

TEST(Registry, HistogramRendering) {
  Registry r;
  auto& f = r.AddHistogram("moor_api_request_duration_seconds", "Latency.", {"method", "route", "code"}, {0.1, 1});
  auto& h = f.With({"GET", "/containers/{id}/json", "200"});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  auto p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.types.at("moor_api_request_duration_seconds"), "histogram");
  std::string l = "method=\"GET\",route=\"/containers/{id}/json\",code=\"200\"";
  EXPECT_EQ(p.series.at("moor_api_request_duration_seconds_bucket{" + l + ",le=\"0.1\"}"), 1);
  EXPECT_EQ(p.series.at("moor_api_request_duration_seconds_bucket{" + l + ",le=\"1\"}"), 2);
  EXPECT_EQ(p.series.at("moor_api_request_duration_seconds_bucket{" + l + ",le=\"+Inf\"}"), 3);
  EXPECT_DOUBLE_EQ(p.series.at("moor_api_request_duration_seconds_sum{" + l + "}"), 5.55);
  EXPECT_EQ(p.series.at("moor_api_request_duration_seconds_count{" + l + "}"), 3);
}

TEST(Registry, CollectorsAfterFamiliesAndChecked) {
  Registry r;
  r.AddGauge("moor_z", "registered", {}).With({}).Set(1);
  r.AddCollector([](SampleWriter& w) {
    w.Family("moor_container_pids", "gauge", "Processes.");
    w.Sample({{"container", "web-1"}, {"id", "0123456789ab"}}, 4);
    w.Sample({{"container", "we\"b\n2"}}, 5);
    w.Sample({{"bad-label", "x"}}, 6);          // skipped
    w.Sample({{"a", "1"}, {"a", "2"}}, 6);      // duplicate label: skipped
    w.Family("moor_container_pids", "gauge", "again");  // twice: skipped with its samples
    w.Sample({{"container", "dup"}}, 7);
    w.Family("moor_z", "gauge", "collides with a registered family");
    w.Sample({}, 8);
    w.Family("bad name", "gauge", "x");
    w.Sample({}, 9);
    w.Family("moor_weird_type", "summary", "x");
    w.Family("moor_restarts_total", "counter", "Restarts.");
    w.Sample({}, 3);
  });
  r.AddCollector([](SampleWriter& w) {
    w.Sample({}, 1);  // no family
    w.Family("moor_container_pids", "gauge", "another collector, same family");  // skipped
    w.Family("moor_second", "untyped", "S.");
    w.Sample({}, 2);
  });
  auto text = r.Render();
  auto p = Parse(text);
  ASSERT_EQ(p.error, "") << text;
  EXPECT_EQ(p.families, (std::vector<std::string>{"moor_metrics_collector_errors_total", "moor_z",
                                                  "moor_container_pids", "moor_restarts_total", "moor_second"}));
  EXPECT_EQ(p.series.at("moor_container_pids{container=\"web-1\",id=\"0123456789ab\"}"), 4);
  EXPECT_EQ(p.series.at("moor_container_pids{container=\"we\"b\n2\"}"), 5);
  EXPECT_FALSE(p.series.contains("moor_container_pids{container=\"dup\"}"));
  EXPECT_EQ(p.series.at("moor_z"), 1);
  EXPECT_EQ(p.series.at("moor_restarts_total"), 3);
  EXPECT_EQ(p.series.at("moor_second"), 2);
  // bad label, dup label, family twice, collision, bad name, bad type, no family, other collector's family
  EXPECT_EQ(Errors(p), 8);
  // Counted again on the next scrape (the error counter is cumulative).
  EXPECT_EQ(Errors(Parse(r.Render())), 16);
}

TEST(Registry, ThrowingCollectorIsSkippedAndRemoved) {
  Registry r;
  int calls = 0;
  int bad = r.AddCollector([&](SampleWriter& w) {
    ++calls;
    w.Family("moor_partial", "gauge", "p");
    w.Sample({}, 1);
    throw std::runtime_error("boom");
  });
  r.AddCollector([](SampleWriter& w) {
    w.Family("moor_partial", "gauge", "the thrower's family is free again");
    w.Sample({}, 2);
  });
  auto p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.series.at("moor_partial"), 2);
  EXPECT_EQ(Errors(p), 1);
  r.RemoveCollector(bad);
  r.RemoveCollector(12345);  // unknown: no-op
  p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Errors(p), 1);
}

TEST(Registry, ConcurrentIncrementsAndScrapes) {
  Registry r;
  auto& c = r.AddCounter("moor_n_total", "n", {"t"});
  auto& h = r.AddHistogram("moor_h_seconds", "h", {}, {0.5});
  auto& g = r.AddGauge("moor_g", "g", {});
  constexpr int kThreads = 8, kIters = 20000;
  std::vector<std::thread> ts;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop) {
      auto p = Parse(r.Render());
      ASSERT_EQ(p.error, "");
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        c.With({std::to_string(t % 2)}).Inc();  // child lookup races with creation
        h.With({}).Observe(i % 2 ? 1.0 : 0.25);
        g.With({}).Add(1);
      }
    });
  }
  for (auto& t : ts) t.join();
  stop = true;
  scraper.join();
  auto p = Parse(r.Render());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.series.at("moor_n_total{t=\"0\"}") + p.series.at("moor_n_total{t=\"1\"}"), kThreads * kIters);
  EXPECT_EQ(p.series.at("moor_h_seconds_count"), kThreads * kIters);
  EXPECT_EQ(p.series.at("moor_h_seconds_bucket{le=\"0.5\"}"), kThreads * kIters / 2);
  EXPECT_DOUBLE_EQ(p.series.at("moor_h_seconds_sum"), kThreads * kIters / 2 * 1.25);
  EXPECT_EQ(p.series.at("moor_g"), kThreads * kIters);
}

TEST(Registry, DefaultRegistryIsOne) {
  EXPECT_EQ(&DefaultRegistry(), &DefaultRegistry());
  EXPECT_NE(DefaultRegistry().Render().find("moor_metrics_collector_errors_total"), std::string::npos);
}

}  // namespace
}  // namespace moor::metrics
