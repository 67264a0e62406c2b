// The engine: containers and their lifecycle, owned by `moor daemon`.
//
// State lives in the state store (SQLite); each running container has a
// monitor process (src/monitor) that outlives the daemon. The engine keeps,
// per container, a subscription to its monitor's events on a thread; when
// the daemon restarts, Open() re-attaches to live monitors and reconciles
// containers whose monitor is gone.
//
// Thread-safety: every public method may be called from any API thread.
// A per-container mutex serialises operations on one container; the engine
// mutex guards the map of containers only.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "engine/container_record.h"
#include "engine/engine_config.h"
#include "engine/events.h"
#include "engine/network_manager.h"
#include "engine/volume_manager.h"
#include "image/image_service.h"
#include "monitor/log_file.h"
#include "net/netlink.h"
#include "store/state_store.h"

namespace moor::engine {

// Error numbers map to HTTP statuses: ENOENT 404, EEXIST/EBUSY/EADDRINUSE 409,
// EINVAL 400, EALREADY 304, anything else 500.
int HttpStatusFor(const Error& e);

struct ListFilter {
  bool all = false;
  std::multimap<std::string, std::string> terms;  // status= name= id= label= ancestor= network=
};

struct WaitResult {
  int exit_code = 0;
  std::string error;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(EngineConfig cfg);
  ~Engine();  // stops subscription threads; containers keep running

  const EngineConfig& config() const { return cfg_; }
  EventBus& events() { return events_; }
  image::ImageService& images() { return *images_; }
  NetworkManager& networks() { return *networks_; }
  VolumeManager& volumes() { return *volumes_; }

  // Containers. `key` is an ID, an ID prefix or a name.
  Result<std::string> Create(const std::string& name, const std::string& body_json);
  Result<void> Start(const std::string& key);
  Result<void> Stop(const std::string& key, std::optional<int> timeout_s, const std::string& signal);
  Result<void> Restart(const std::string& key, std::optional<int> timeout_s);
  Result<void> Kill(const std::string& key, const std::string& signal);
  // Kill without the before-down hook: for discovery's own reload signals
  // (a template's reload signal must not deregister the container, and the
  // hook would wait for the very render that sends it).
  Result<void> Signal(const std::string& key, const std::string& signal);
  Result<void> Remove(const std::string& key, bool force, bool volumes);
  Result<void> Pause(const std::string& key);
  Result<void> Unpause(const std::string& key);
  Result<void> Rename(const std::string& key, const std::string& new_name);
  // on_registered runs once the baseline is taken (so an exit right after it
  // is not missed): the API sends its response header there.
  Result<WaitResult> Wait(const std::string& key, const std::string& condition,
                          const std::function<bool()>& client_gone, const std::function<void()>& on_registered);
  Result<std::string> InspectJson(const std::string& key);
  Result<std::string> ListJson(const ListFilter& f);
  Result<ContainerRecord> Get(const std::string& key);
  Result<std::vector<std::string>> Prune();  // removed IDs

  // Logs of a container (json-file); on_entry false stops.
  Result<void> Logs(const std::string& key, const monitor::LogQuery& q,
                    const std::function<bool(const monitor::LogEntry&)>& on_entry,
                    const std::function<bool()>& stop);
  // Raw connection to the container's monitor in attach mode (see
  // monitor/monitor_config.h), after its {"ok":true} line.
  // A container that is not running yet (`moor run` attaches before it
  // starts) is waited for, up to 60 s or until client_gone(); then the
  // attach replays the run's output from its start.
  Result<UniqueFd> Attach(const std::string& key, bool stdin, bool stdout, bool stderr,
                          const std::function<bool()>& client_gone);
  Result<void> Resize(const std::string& key, int height, int width);

  // Runtime commands on a running container.
  Result<std::string> TopJson(const std::string& key, const std::string& ps_args);
  Result<std::string> StatsJson(const std::string& key);
  Result<std::string> Update(const std::string& key, const std::string& body_json);

  // For discovery/health: a snapshot of every record.
  Result<std::vector<ContainerRecord>> All();

  // ---- for service discovery (discovery_glue.cc) ---------------------------
  // Called without locks held before a running container is stopped (also
  // for restart), killed with a terminating signal, paused or force-removed:
  // discovery deregisters it there, before any signal reaches it. drain is
  // false for kill and rm -f (no grace wanted).
  void SetBeforeDownHook(std::function<void(const std::string& id, bool drain)> hook);
  // ---- for log shipping (logship_service.cc) ---------------------------------
  // Called before a container's files are deleted (rm, --rm), with the
  // container's lock held: the shipper opens its log files there. The hook
  // must not call back into the engine for this container.
  void SetBeforeRemoveHook(std::function<void(const ContainerRecord&)> hook);
  struct CaptureResult {
    int exit_code = 0;
    std::string output;  // stdout + stderr, at most 4 KiB
    bool timed_out = false;
  };
  // Runs argv inside the running container (runtime exec), killed after timeout_ns.
  Result<CaptureResult> ExecCapture(const std::string& key, const std::vector<std::string>& argv, int64_t timeout_ns);
  Result<std::string> ReadContainerFile(const std::string& key, const std::string& path);
  // Atomic (temporary file + rename in the same directory; in place when the
  // path is a mount point); parent directories are created.
  Result<void> WriteContainerFile(const std::string& key, const std::string& path, const std::string& content,
                                  unsigned mode);
  // TCP ports the container exposes (its config, its image, its published
  // ports) and whether a HEALTHCHECK runs for it.
  struct ServiceView {
    std::vector<int> tcp_ports;
    bool has_healthcheck = false;
    std::map<std::string, std::string> image_labels;
  };
  ServiceView ServiceViewOf(const ContainerRecord& r);
  // The nameserver written into bridged containers' resolv.conf ("" = the host's).
  void SetContainerResolver(const std::string& ip);
  std::string ContainerResolver();


  bool NetworkInUse(const std::string& network_id);
  bool VolumeInUse(const std::string& name);

  // Exec: see engine_exec.cc.
  Result<std::string> ExecCreate(const std::string& key, const std::string& body_json);
  // Runs the exec with its stdio on conn (multiplexed without tty); returns
  // when the process ended; exit code kept for ExecInspect.
  Result<void> ExecStart(const std::string& exec_id, UniqueFd conn, std::string pending, bool detach);
  Result<std::string> ExecInspectJson(const std::string& exec_id);
  Result<void> ExecResize(const std::string& exec_id, int height, int width);

  // Archive (cp). GET: writes a tar of path to out_fd. PUT: extracts the tar
  // in `tar` under dir.
  Result<void> ArchiveGet(const std::string& key, const std::string& path, int out_fd);
  // Docker's path stat (JSON: name, size, mode with Go's file mode bits, linkTarget).
  Result<std::string> ArchiveStat(const std::string& key, const std::string& path);
  Result<void> ArchivePut(const std::string& key, const std::string& dir, const std::string& tar);

 private:
  struct Live;  // per-container runtime state (engine.cc)
  explicit Engine(EngineConfig cfg);
  Result<std::shared_ptr<Live>> Find(const std::string& key);
  Result<void> Load();
  Result<void> Save(Live& c);  // REQUIRES: c.mu held
  void Publish(const ContainerRecord& r, const std::string& action,
               std::map<std::string, std::string> extra = {});

  // Lifecycle internals (engine_start.cc, engine_stop.cc).
  Result<void> StartLocked(Live& c, std::unique_lock<std::mutex>& lock);
  Result<void> StopLocked(Live& c, std::unique_lock<std::mutex>& lock, std::optional<int> timeout_s,
                          const std::string& signal);
  void Subscribe(const std::shared_ptr<Live>& c);
  void OnMonitorEvent(const std::shared_ptr<Live>& c, const std::string& line);
  void OnMonitorGone(const std::shared_ptr<Live>& c);
  // Unmounts the rootfs, removes the netns, marks the container exited from
  // the monitor's final state. REQUIRES: c.mu held.
  void FinalizeLocked(Live& c);
  Result<void> RemoveLocked(Live& c, std::unique_lock<std::mutex>& lock, bool volumes);
  Result<void> Reconcile(const std::shared_ptr<Live>& c);
  std::string RuntimePath(const std::string& name) const;
  std::vector<std::string> RuntimeArgv(const std::string& name) const;
  void StartHealth(const std::shared_ptr<Live>& c);
  Result<std::string> InContainerFs(const std::string& key, const std::function<int(int out_fd)>& fn);

  EngineConfig cfg_;
  std::unique_ptr<store::StateStore> store_;
  std::unique_ptr<net::Netlink> netlink_;
  std::unique_ptr<image::ImageService> images_;
  std::mutex images_mu_;  // ImageService is not thread-safe
  std::unique_ptr<NetworkManager> networks_;
  std::unique_ptr<VolumeManager> volumes_;
  EventBus events_;

  std::mutex mu_;  // guards containers_ and shutting_down_
  std::map<std::string, std::shared_ptr<Live>> containers_;
  bool shutting_down_ = false;

  // What ServiceViewOf needs of an image, by image ID (immutable, so cached;
  // guarded by images_mu_): the registrar asks for every container on each
  // reconcile.
  struct ImageFacts {
    std::vector<std::string> exposed_ports;
    bool healthcheck = false;
    std::map<std::string, std::string> labels;
  };
  std::map<std::string, ImageFacts> image_facts_;
  std::mutex hook_mu_;  // guards before_down_ and container_resolver_
  std::string container_resolver_;
  std::function<void(const std::string&, bool)> before_down_;
  std::function<void(const ContainerRecord&)> before_remove_;  // guarded by hook_mu_
  void BeforeDown(const std::string& id, bool drain);
  Result<void> KillImpl(const std::string& key, const std::string& signal, bool leave_discovery);

  struct ExecSession;
  std::mutex exec_mu_;
  std::map<std::string, std::shared_ptr<ExecSession>> execs_;
};

}  // namespace moor::engine
