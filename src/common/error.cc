#include "common/error.h"

#include <cstring>

namespace moor {

Error Error::FromErrno(std::string_view what) { return FromErrno(errno, what); }

Error Error::FromErrno(int errnum, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(errnum);
  return Error(errnum, std::move(msg));
}

Error&& Error::Wrap(std::string_view context) && {
  std::string msg(context);
  msg += ": ";
  msg += message_;
  message_ = std::move(msg);
  return std::move(*this);
}

Error Error::Wrap(std::string_view context) const& {
  Error copy = *this;
  return std::move(copy).Wrap(context);
}

}  // namespace moor
