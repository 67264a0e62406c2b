// Netlink through libnl-route-3. Every operation opens its own socket, so the
// object is thread-safe, and operations inside a container's namespace use a
// socket opened while the thread is in that namespace (a netlink socket
// talks to the namespace it was created in).
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <cerrno>
#include <memory>

#include "common/strings.h"
#include "net/netlink.h"
#include "net/netns.h"
#include "net/subnet.h"

namespace moor::net {

namespace {

struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RtAddrDeleter {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct RouteDeleter {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Sock = std::unique_ptr<nl_sock, SockDeleter>;
using Link = std::unique_ptr<rtnl_link, LinkDeleter>;
using Addr = std::unique_ptr<nl_addr, AddrDeleter>;
using RtAddr = std::unique_ptr<rtnl_addr, RtAddrDeleter>;
using Route = std::unique_ptr<rtnl_route, RouteDeleter>;
using Cache = std::unique_ptr<nl_cache, CacheDeleter>;

// libnl reports negative NLE_* codes; keep the errno callers may test for.
int NleToErrno(int nle) {
  switch (nle < 0 ? -nle : nle) {
    case NLE_EXIST:
      return EEXIST;
    case NLE_NODEV:
    case NLE_OBJ_NOTFOUND:
      return ENODEV;
    case NLE_PERM:
      return EPERM;
    case NLE_BUSY:
      return EBUSY;
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_INVAL:
      return EINVAL;
    case NLE_RANGE:
      return ERANGE;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    default:
      return EIO;
  }
}

std::unexpected<Error> FailNl(int nle, std::string_view what) {
  return Fail(Error(NleToErrno(nle), std::string(what) + ": " + nl_geterror(nle)));
}

bool IsAbsent(int nle) {
  return nle == -NLE_NODEV || nle == -NLE_OBJ_NOTFOUND;
}

Result<Sock> OpenSocket() {
  Sock sock(nl_socket_alloc());
  if (!sock) return Fail(Error(ENOMEM, "allocate netlink socket"));
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) return FailNl(err, "connect netlink socket");
  return sock;
}

Result<Addr> MakeAddr(uint32_t host_order, int prefix) {
  uint32_t be = htonl(host_order);
  Addr a(nl_addr_build(AF_INET, &be, sizeof be));
  if (!a) return Fail(Error(ENOMEM, "allocate netlink address"));
  nl_addr_set_prefixlen(a.get(), prefix);
  return a;
}

// nullptr when the link does not exist.
Result<Link> GetLink(nl_sock* sock, const std::string& name) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &raw);
  if (IsAbsent(err)) return Link();
  if (err < 0) return FailNl(err, "look up link " + name);
  return Link(raw);
}

Result<Link> RequireLink(nl_sock* sock, const std::string& name) {
  Link link = TRY(GetLink(sock, name));
  if (!link) return Fail(Error(ENODEV, "link " + name + " does not exist"));
  return link;
}

// Applies `change` (flags, master, mtu, namespace, name) to the link; what
// describes the change for the error.
Result<void> ChangeLink(nl_sock* sock, rtnl_link* link, rtnl_link* change, std::string_view what) {
  if (int err = rtnl_link_change(sock, link, change, 0); err < 0) return FailNl(err, what);
  return {};
}

Result<void> SetUp(nl_sock* sock, rtnl_link* link) {
  Link change(rtnl_link_alloc());
  if (!change) return Fail(Error(ENOMEM, "allocate link"));
  rtnl_link_set_flags(change.get(), IFF_UP);
  return ChangeLink(sock, link, change.get(), "set " + std::string(rtnl_link_get_name(link)) + " up");
}

// Adds addr/prefix to the link; an address already there is fine.
Result<void> AddAddress(nl_sock* sock, int ifindex, uint32_t addr, int prefix, const std::string& link_name) {
  RtAddr ra(rtnl_addr_alloc());
  if (!ra) return Fail(Error(ENOMEM, "allocate address"));
  Addr local = TRY(MakeAddr(addr, prefix));
  rtnl_addr_set_ifindex(ra.get(), ifindex);
  rtnl_addr_set_family(ra.get(), AF_INET);
  if (int err = rtnl_addr_set_local(ra.get(), local.get()); err < 0) return FailNl(err, "set address");
  rtnl_addr_set_prefixlen(ra.get(), prefix);
  // A broadcast address like `ip addr add … brd +`, so the bridge and the
  // container agree on the subnet's broadcast.
  Addr brd = TRY(MakeAddr(addr | ~(prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix)), 32));
  if (prefix < 31) rtnl_addr_set_broadcast(ra.get(), brd.get());
  int err = rtnl_addr_add(sock, ra.get(), 0);
  if (err == -NLE_EXIST) return {};
  if (err < 0) {
    return FailNl(err, "add address " + FormatIpv4(addr) + "/" + std::to_string(prefix) + " to " + link_name);
  }
  return {};
}

Result<void> AddDefaultRoute(nl_sock* sock, int ifindex, uint32_t gateway) {
  Route route(rtnl_route_alloc());
  if (!route) return Fail(Error(ENOMEM, "allocate route"));
  Addr dst = TRY(MakeAddr(0, 0));
  Addr gw = TRY(MakeAddr(gateway, 32));
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  if (int err = rtnl_route_set_dst(route.get(), dst.get()); err < 0) {
    return FailNl(err, "set route destination");
  }
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) return Fail(Error(ENOMEM, "allocate next hop"));
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh now
  if (int err = rtnl_route_add(sock, route.get(), NLM_F_EXCL); err < 0) {
    return FailNl(err, "add default route via " + FormatIpv4(gateway));
  }
  return {};
}

// The container side, run inside the container's namespace: rename is done,
// now address, links up and the default route.
Result<void> ConfigurePeer(const std::string& peer_name, uint32_t addr, int prefix, uint32_t gateway) {
  Sock sock = TRY(OpenSocket());
  Link peer = TRY(RequireLink(sock.get(), peer_name));
  Link lo = TRY(RequireLink(sock.get(), "lo"));
  TRY(SetUp(sock.get(), lo.get()));
  TRY(AddAddress(sock.get(), rtnl_link_get_ifindex(peer.get()), addr, prefix, peer_name));
  TRY(SetUp(sock.get(), peer.get()));
  if (gateway != 0) TRY(AddDefaultRoute(sock.get(), rtnl_link_get_ifindex(peer.get()), gateway));
  return {};
}

class LibnlNetlink final : public Netlink {
 public:
  Result<void> EnsureBridge(const std::string& name, uint32_t addr, int prefix, int mtu) override {
    auto ctx = "set up bridge " + name;
    Sock sock = TRY_CTX(OpenSocket(), ctx);
    Link link = TRY_CTX(GetLink(sock.get(), name), ctx);
    if (!link) {
      Link want(rtnl_link_bridge_alloc());
      if (!want) return Fail(Error(ENOMEM, "allocate bridge"));
      rtnl_link_set_name(want.get(), name.c_str());
      if (mtu > 0) rtnl_link_set_mtu(want.get(), static_cast<unsigned>(mtu));
      int err = rtnl_link_add(sock.get(), want.get(), NLM_F_CREATE | NLM_F_EXCL);
      // EEXIST: someone created it between the lookup and here.
      if (err < 0 && err != -NLE_EXIST) return FailNl(err, ctx);
      link = TRY_CTX(RequireLink(sock.get(), name), ctx);
    }
    if (!rtnl_link_is_bridge(link.get())) {
      return Fail(Error(EEXIST, ctx + ": a link of that name exists and is not a bridge; "
                                      "delete it or choose another bridge name"));
    }
    TRY_CTX(AddAddress(sock.get(), rtnl_link_get_ifindex(link.get()), addr, prefix, name), ctx);
    TRY_CTX(SetUp(sock.get(), link.get()), ctx);
    return {};
  }

  Result<void> DeleteLink(const std::string& name) override {
    Sock sock = TRY(OpenSocket());
    Link link(rtnl_link_alloc());
    if (!link) return Fail(Error(ENOMEM, "allocate link"));
    rtnl_link_set_name(link.get(), name.c_str());
    int err = rtnl_link_delete(sock.get(), link.get());
    if (err < 0 && !IsAbsent(err)) return FailNl(err, "delete link " + name);
    return {};
  }

  Result<bool> LinkExists(const std::string& name) override {
    Sock sock = TRY(OpenSocket());
    Link link = TRY(GetLink(sock.get(), name));
    return link != nullptr;
  }

  Result<std::vector<std::string>> LinksWithPrefix(const std::string& prefix) override {
    Sock sock = TRY(OpenSocket());
    nl_cache* raw = nullptr;
    if (int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw); err < 0)
      return FailNl(err, "list links");
    Cache cache(raw);
    std::vector<std::string> names;
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
      const char* name = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(o));
      if (name && StartsWith(name, prefix)) names.emplace_back(name);
    }
    return names;
  }

  Result<void> CreateVethInNetns(const std::string& host_name, const std::string& peer_tmp_name,
                                 const std::string& bridge, int netns_fd, const std::string& peer_name,
                                 uint32_t addr, int prefix, uint32_t gateway, int mtu) override {
    auto ctx = "connect " + host_name + " to bridge " + bridge;
    Sock sock = TRY_CTX(OpenSocket(), ctx);
    // Look the bridge up first: a missing bridge must not leave a pair behind.
    Link br = TRY_CTX(RequireLink(sock.get(), bridge), ctx);

    Link veth(rtnl_link_veth_alloc());
    if (!veth) return Fail(Error(ENOMEM, "allocate veth"));
    rtnl_link* peer = rtnl_link_veth_get_peer(veth.get());  // a new reference
    rtnl_link_set_name(veth.get(), host_name.c_str());
    rtnl_link_set_name(peer, peer_tmp_name.c_str());
    if (mtu > 0) {
      rtnl_link_set_mtu(veth.get(), static_cast<unsigned>(mtu));
      rtnl_link_set_mtu(peer, static_cast<unsigned>(mtu));
    }
    rtnl_link_put(peer);  // rtnl_link_veth_get_peer took a reference
    if (int err = rtnl_link_add(sock.get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
      return FailNl(err, ctx + ": create veth pair");
    }
    // From here on a failure deletes the pair (deleting one end removes both,
    // wherever the other end is).
    Result<void> done =
        Wire(sock.get(), host_name, peer_tmp_name, br.get(), netns_fd, peer_name, addr, prefix, gateway);
    if (!done) {
      (void)DeleteLink(host_name);
      return Fail(std::move(done.error()).Wrap(ctx));
    }
    return {};
  }

 private:
  static Result<void> Wire(nl_sock* sock, const std::string& host_name, const std::string& peer_tmp_name,
                           rtnl_link* br, int netns_fd, const std::string& peer_name, uint32_t addr,
                           int prefix, uint32_t gateway) {
    Link host = TRY(RequireLink(sock, host_name));
    Link tmp = TRY(RequireLink(sock, peer_tmp_name));

    // Move the peer into the container's namespace and rename it there in
    // one request, so the final name never exists in the host namespace.
    Link move(rtnl_link_alloc());
    if (!move) return Fail(Error(ENOMEM, "allocate link"));
    rtnl_link_set_ns_fd(move.get(), netns_fd);
    rtnl_link_set_name(move.get(), peer_name.c_str());
    TRY(ChangeLink(sock, tmp.get(), move.get(),
                   "move " + peer_tmp_name + " into the container's network namespace as " + peer_name));

    Link attach(rtnl_link_alloc());
    if (!attach) return Fail(Error(ENOMEM, "allocate link"));
    rtnl_link_set_master(attach.get(), rtnl_link_get_ifindex(br));
    rtnl_link_set_flags(attach.get(), IFF_UP);
    TRY(ChangeLink(sock, host.get(), attach.get(), "attach " + host_name + " to the bridge and set it up"));

    return InNetns(netns_fd, [&] { return ConfigurePeer(peer_name, addr, prefix, gateway); });
  }
};

}  // namespace

std::unique_ptr<Netlink> MakeLibnlNetlink() {
  return std::make_unique<LibnlNetlink>();
}

}  // namespace moor::net
