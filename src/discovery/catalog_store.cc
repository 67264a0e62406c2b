// Catalog persistence: the SQLite file holding external services, their
// checks, KV entries and the index high-water mark, and the JSON forms of
// check definitions and instances kept in it.
#include <cerrno>

#include "common/log.h"
#include "common/strings.h"
#include "discovery/catalog.h"
#include "discovery/catalog_internal.h"

namespace moor::discovery {
namespace {

using nlohmann::json;

// kSchema[i] brings the file from version i to i+1. Append; never edit a
// released step.
const std::vector<std::string>& Schema() {
  static const std::vector<std::string> steps = {
      // 1: instances and check definitions are JSON documents; check status
      // and KV fields are columns because they change on their own.
      "CREATE TABLE services (id TEXT PRIMARY KEY, json TEXT NOT NULL);"
      "CREATE TABLE checks (id TEXT PRIMARY KEY, service_id TEXT NOT NULL, service_name TEXT NOT NULL,"
      " def TEXT NOT NULL, status TEXT NOT NULL, output TEXT NOT NULL,"
      " create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL);"
      "CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, flags INTEGER NOT NULL,"
      " create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL, lock_index INTEGER NOT NULL);"
      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
  };
  return steps;
}

int64_t I64(uint64_t v) {
  return static_cast<int64_t>(v);
}

uint64_t U64(int64_t v) {
  return static_cast<uint64_t>(v);
}

}  // namespace

// ---- JSON -------------------------------------------------------------------

json CheckDefToJson(const CheckDef& d) {
  return json{{"id", d.id},
              {"name", d.name},
              {"type", d.type},
              {"target", d.target},
              {"path", d.path},
              {"args", d.args},
              {"container_id", d.container_id},
              {"method", d.method},
              {"headers", d.headers},
              {"expect_status", d.expect_status},
              {"body_match", d.body_match},
              {"tls_skip_verify", d.tls_skip_verify},
              {"interval_ns", d.interval_ns},
              {"timeout_ns", d.timeout_ns},
              {"start_interval_ns", d.start_interval_ns},
              {"ttl_ns", d.ttl_ns},
              {"success_before_passing", d.success_before_passing},
              {"failures_before_critical", d.failures_before_critical},
              {"deregister_critical_after_ns", d.deregister_critical_after_ns},
              {"initial", std::string(HealthName(d.initial))},
              {"notes", d.notes}};
}

Result<CheckDef> CheckDefFromJson(const json& j) {
  try {
    CheckDef d;
    d.id = j.value("id", d.id);
    d.name = j.value("name", d.name);
    d.type = j.value("type", d.type);
    d.target = j.value("target", d.target);
    d.path = j.value("path", d.path);
    d.args = j.value("args", d.args);
    d.container_id = j.value("container_id", d.container_id);
    d.method = j.value("method", d.method);
    d.headers = j.value("headers", d.headers);
    d.expect_status = j.value("expect_status", d.expect_status);
    d.body_match = j.value("body_match", d.body_match);
    d.tls_skip_verify = j.value("tls_skip_verify", d.tls_skip_verify);
    d.interval_ns = j.value("interval_ns", d.interval_ns);
    d.timeout_ns = j.value("timeout_ns", d.timeout_ns);
    d.start_interval_ns = j.value("start_interval_ns", d.start_interval_ns);
    d.ttl_ns = j.value("ttl_ns", d.ttl_ns);
    d.success_before_passing = j.value("success_before_passing", d.success_before_passing);
    d.failures_before_critical = j.value("failures_before_critical", d.failures_before_critical);
    d.deregister_critical_after_ns = j.value("deregister_critical_after_ns", d.deregister_critical_after_ns);
    d.notes = j.value("notes", d.notes);
    const std::string initial = j.value("initial", std::string("critical"));
    auto h = ParseHealth(initial);
    if (!h) return FailInvalid("check \"" + d.id + "\": unknown initial status \"" + initial + "\"");
    d.initial = *h;
    return d;
  } catch (const json::exception& e) {
    return FailInvalid(std::string("check definition: ") + e.what());
  }
}

json InstanceToJson(const ServiceInstance& s, bool with_indexes) {
  json j{{"id", s.id},
         {"name", s.name},
         {"tags", s.tags},
         {"meta", s.meta},
         {"address", s.address},
         {"port", s.port},
         {"source", s.source},
         {"container_id", s.container_id},
         {"container_name", s.container_name}};
  if (with_indexes) {
    j["create_index"] = s.create_index;
    j["modify_index"] = s.modify_index;
  }
  return j;
}

Result<ServiceInstance> InstanceFromJson(const json& j) {
  try {
    ServiceInstance s;
    s.id = j.value("id", s.id);
    s.name = j.value("name", s.name);
    s.tags = j.value("tags", s.tags);
    s.meta = j.value("meta", s.meta);
    s.address = j.value("address", s.address);
    s.port = j.value("port", s.port);
    s.source = j.value("source", s.source);
    s.container_id = j.value("container_id", s.container_id);
    s.container_name = j.value("container_name", s.container_name);
    s.create_index = j.value("create_index", s.create_index);
    s.modify_index = j.value("modify_index", s.modify_index);
    return s;
  } catch (const json::exception& e) {
    return FailInvalid(std::string("service instance: ") + e.what());
  }
}

// ---- CatalogStore -------------------------------------------------------------

Result<std::unique_ptr<CatalogStore>> CatalogStore::Open(const std::string& path) {
  auto db = TRY(store::Database::Open(path));
  TRY_CTX(db.Migrate(Schema()), "discovery store \"" + path + "\"");
  return std::unique_ptr<CatalogStore>(new CatalogStore(std::move(db)));
}

Result<CatalogStore::Loaded> CatalogStore::Load() {
  Loaded out;
  // A row that no longer parses is skipped with a warning rather than
  // keeping the daemon from starting.
  {
    auto st = TRY(db_.Prepare("SELECT id, json FROM services ORDER BY id"));
    while (TRY(st.Step())) {
      const std::string id = st.ColumnText(0);
      auto j = json::parse(st.ColumnText(1), nullptr, false);
      auto s = j.is_discarded() ? Result<ServiceInstance>(FailInvalid("not JSON")) : InstanceFromJson(j);
      if (!s) {
        log::Warn("discovery store: skipping service \"" + id + "\": " + s.error().message());
        continue;
      }
      s->id = id;
      out.services.push_back(std::move(*s));
    }
  }
  {
    auto st = TRY(db_.Prepare(
        "SELECT id, service_id, service_name, def, status, output, create_index, modify_index FROM checks ORDER BY id"));
    while (TRY(st.Step())) {
      const std::string id = st.ColumnText(0);
      auto j = json::parse(st.ColumnText(3), nullptr, false);
      auto def = j.is_discarded() ? Result<CheckDef>(FailInvalid("not JSON")) : CheckDefFromJson(j);
      auto status = ParseHealth(st.ColumnText(4));
      if (!def || !status) {
        log::Warn("discovery store: skipping check \"" + id + "\": " +
                  (def ? "unknown status \"" + st.ColumnText(4) + "\"" : def.error().message()));
        continue;
      }
      CheckState c;
      c.def = std::move(*def);
      c.def.id = id;
      c.service_id = st.ColumnText(1);
      c.service_name = st.ColumnText(2);
      c.status = *status;
      c.output = st.ColumnText(5);
      c.create_index = U64(st.ColumnInt(6));
      c.modify_index = U64(st.ColumnInt(7));
      out.checks.push_back(std::move(c));
    }
  }
  {
    auto st = TRY(db_.Prepare(
        "SELECT key, value, flags, create_index, modify_index, lock_index FROM kv ORDER BY key"));
    while (TRY(st.Step())) {
      KvEntry e;
      e.key = st.ColumnText(0);
      e.value = st.ColumnText(1);
      e.flags = U64(st.ColumnInt(2));
      e.create_index = U64(st.ColumnInt(3));
      e.modify_index = U64(st.ColumnInt(4));
      e.lock_index = U64(st.ColumnInt(5));
      out.kv.push_back(std::move(e));
    }
  }
  {
    auto st = TRY(db_.Prepare("SELECT value FROM meta WHERE key = 'index'"));
    if (TRY(st.Step())) {
      if (auto v = ParseUint(st.ColumnText(0))) out.index = *v;
    }
  }
  return out;
}

Result<void> CatalogStore::PutService(const ServiceInstance& s) {
  auto st = TRY(db_.Prepare("INSERT OR REPLACE INTO services (id, json) VALUES (?, ?)"));
  st.Bind(1, s.id).Bind(2, InstanceToJson(s).dump());
  return st.Run();
}

Result<void> CatalogStore::DeleteService(const std::string& id) {
  auto st = TRY(db_.Prepare("DELETE FROM services WHERE id = ?"));
  st.Bind(1, id);
  return st.Run();
}

Result<void> CatalogStore::PutCheck(const CheckState& c) {
  auto st = TRY(db_.Prepare(
      "INSERT OR REPLACE INTO checks (id, service_id, service_name, def, status, output, create_index, modify_index)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, c.def.id)
      .Bind(2, c.service_id)
      .Bind(3, c.service_name)
      .Bind(4, CheckDefToJson(c.def).dump())
      .Bind(5, HealthName(c.status))
      .Bind(6, c.output)
      .Bind(7, I64(c.create_index))
      .Bind(8, I64(c.modify_index));
  return st.Run();
}

Result<void> CatalogStore::DeleteCheck(const std::string& id) {
  auto st = TRY(db_.Prepare("DELETE FROM checks WHERE id = ?"));
  st.Bind(1, id);
  return st.Run();
}

Result<void> CatalogStore::PutKv(const KvEntry& e) {
  // Values are raw bytes: CAST keeps them a BLOB, so SQLite never treats
  // them as (possibly invalid, NUL-containing) UTF-8 text.
  auto st = TRY(db_.Prepare(
      "INSERT OR REPLACE INTO kv (key, value, flags, create_index, modify_index, lock_index)"
      " VALUES (?, CAST(? AS BLOB), ?, ?, ?, ?)"));
  st.Bind(1, e.key)
      .Bind(2, e.value)
      .Bind(3, I64(e.flags))
      .Bind(4, I64(e.create_index))
      .Bind(5, I64(e.modify_index))
      .Bind(6, I64(e.lock_index));
  return st.Run();
}

Result<void> CatalogStore::DeleteKv(const std::string& key) {
  auto st = TRY(db_.Prepare("DELETE FROM kv WHERE key = ?"));
  st.Bind(1, key);
  return st.Run();
}

Result<void> CatalogStore::SetIndex(uint64_t index) {
  auto st = TRY(db_.Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('index', ?)"));
  st.Bind(1, std::to_string(index));
  return st.Run();
}

// ---- Catalog::AttachStore -------------------------------------------------------

Result<void> Catalog::AttachStore(const std::string& db_path) {
  auto st = TRY(CatalogStore::Open(db_path));
  auto loaded = TRY_CTX(st->Load(), "discovery store \"" + db_path + "\"");
  {
    std::lock_guard lk(impl_->mu);
    Impl& m = *impl_;
    if (m.store) return FailInvalid("discovery store already attached");
    // Never below anything handed out before the restart.
    uint64_t idx = std::max(m.index, loaded.index);
    for (auto& s : loaded.services) {
      idx = std::max({idx, s.create_index, s.modify_index});
      m.service_name_index[s.name] = 0;
      m.services.insert_or_assign(s.id, std::move(s));
    }
    const int64_t now = MonotonicNowNs();
    for (auto& c : loaded.checks) {
      if (!c.service_id.empty() && !m.services.contains(c.service_id)) continue;  // orphan
      idx = std::max({idx, c.create_index, c.modify_index});
      // Monotonic time does not survive a reboot: count from the load.
      c.critical_since_ns = c.status == discovery::Health::kCritical ? now : 0;
      const std::string id = c.def.id;
      m.checks.insert_or_assign(id, std::move(c));
    }
    for (auto& e : loaded.kv) {
      idx = std::max({idx, e.create_index, e.modify_index});
      const std::string key = e.key;
      m.kv.insert_or_assign(key, std::move(e));
    }
    m.index = idx;
    m.services_index = m.checks_index = m.nodes_index = idx;
    for (auto& [name, i] : m.service_name_index) i = idx;
    m.index_reserved = loaded.index;
    m.store = std::move(st);
  }
  impl_->Notify();
  return {};
}

}  // namespace moor::discovery
