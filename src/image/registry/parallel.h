// Runs fn(i) for i in [0, n) on up to `workers` threads; the first error
// stops handing out further items and is returned once running ones finish.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"

namespace moor::image::registry {

template <class Fn>
Result<void> RunParallel(size_t n, int workers, Fn fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::optional<Error> first;
  auto loop = [&] {
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= n) return;
      Result<void> r = fn(i);
      if (!r) {
        std::lock_guard lock(mu);
        if (!first) first = std::move(r.error());
        failed = true;
      }
    }
  };
  size_t count = std::min(n, static_cast<size_t>(std::max(workers, 1)));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < count; ++t) threads.emplace_back(loop);
  loop();  // the calling thread works too
  for (std::thread& t : threads) t.join();
  if (first) return Fail(std::move(*first));
  return {};
}

}  // namespace moor::image::registry
