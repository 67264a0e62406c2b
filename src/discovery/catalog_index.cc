// Catalog: index queries, blocking waits and watchers.
#include <algorithm>

#include "discovery/catalog.h"
#include "discovery/catalog_internal.h"

namespace moor::discovery {

uint64_t Catalog::Index() const {
  std::lock_guard lk(impl_->mu);
  return impl_->index;
}

uint64_t Catalog::ServicesIndex() const {
  std::lock_guard lk(impl_->mu);
  return impl_->services_index;
}

uint64_t Catalog::ServiceIndex(const std::string& name) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->service_name_index.find(name);
  // A name never seen: the services index, which moves when it appears.
  return it != impl_->service_name_index.end() ? it->second : impl_->services_index;
}

uint64_t Catalog::ChecksIndex() const {
  std::lock_guard lk(impl_->mu);
  return impl_->checks_index;
}

uint64_t Catalog::NodesIndex() const {
  std::lock_guard lk(impl_->mu);
  return impl_->nodes_index;
}

uint64_t Catalog::WaitFor(const std::function<uint64_t()>& current, uint64_t index,
                          std::chrono::steady_clock::time_point deadline,
                          const std::function<bool()>& cancelled) const {
  // Short slices so cancellation (a closed client connection) is noticed.
  constexpr auto kSlice = std::chrono::milliseconds(200);
  for (;;) {
    // Every change moves the global counter, so a change between reading
    // it and waiting is never missed.
    uint64_t seen;
    {
      std::lock_guard lk(impl_->mu);
      seen = impl_->index;
    }
    const uint64_t cur = current();
    if (cur > index) return cur;
    if (cancelled && cancelled()) return cur;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return cur;
    std::unique_lock lk(impl_->mu);
    impl_->cv.wait_until(lk, std::min(deadline, now + kSlice), [&] { return impl_->index != seen; });
  }
}

int Catalog::Watch(std::function<void(uint64_t index)> fn) const {
  std::lock_guard lk(impl_->mu);
  const int handle = impl_->next_watch++;
  impl_->watchers.emplace(handle, std::make_shared<std::function<void(uint64_t)>>(std::move(fn)));
  return handle;
}

void Catalog::Unwatch(int handle) const {
  // Waits for a notification in progress on another thread, so the watcher's
  // captures may be destroyed once this returns (recursive: a watcher may
  // unwatch itself).
  std::lock_guard nl(impl_->notify_mu);
  std::lock_guard lk(impl_->mu);
  impl_->watchers.erase(handle);
}

void Catalog::Impl::Notify() {
  cv.notify_all();
  // Serialised so watchers see indexes in increasing order; concurrent
  // changes coalesce into one call with the latest index.
  std::lock_guard nl(notify_mu);
  uint64_t idx;
  std::vector<std::shared_ptr<std::function<void(uint64_t)>>> fns;
  {
    std::lock_guard lk(mu);
    idx = index;
    if (idx <= last_notified) return;
    last_notified = idx;
    for (const auto& [h, f] : watchers) fns.push_back(f);
  }
  for (const auto& f : fns) (*f)(idx);
}

}  // namespace moor::discovery
