// Error and Result<T>: the error convention of every moor module.
//
// A failure carries the errno that caused it (0 when none) and a message that
// grows context while it unwinds, innermost last:
//   create container: mount "/proc": Operation not permitted
// No exceptions cross module boundaries; functions return Result<T>.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>

namespace moor {

class Error {
 public:
  Error() = default;
  Error(int errnum, std::string message) : errnum_(errnum), message_(std::move(message)) {}

  // Error from the current errno: "<what>: <strerror(errno)>".
  static Error FromErrno(std::string_view what);
  static Error FromErrno(int errnum, std::string_view what);
  // Error without an errno (bad input, protocol violations).
  static Error Invalid(std::string message) { return Error(EINVAL, std::move(message)); }

  int errnum() const { return errnum_; }
  const std::string& message() const { return message_; }
  // Exit status a CLI should use for this error (0: none suggested, use 1).
  // 127/126 mark "the program to run was not found / cannot be executed", as
  // a shell reports them.
  int exit_code() const { return exit_code_; }
  Error&& WithExitCode(int code) && {
    exit_code_ = code;
    return std::move(*this);
  }

  // Prepends context: Wrap("create container") -> "create container: <message>".
  Error&& Wrap(std::string_view context) &&;
  Error Wrap(std::string_view context) const&;

 private:
  int errnum_ = 0;
  std::string message_;
  int exit_code_ = 0;
};

template <class T = void>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> Fail(Error e) { return std::unexpected<Error>(std::move(e)); }
inline std::unexpected<Error> FailErrno(std::string_view what) { return Fail(Error::FromErrno(what)); }
inline std::unexpected<Error> FailInvalid(std::string message) {
  return Fail(Error::Invalid(std::move(message)));
}

namespace detail {
template <class T>
T TakeValue(std::expected<T, Error>&& r) {
  return std::move(*r);
}
inline void TakeValue(std::expected<void, Error>&&) {}
}  // namespace detail

}  // namespace moor

// TRY(expr): evaluates a Result; on error returns it from the enclosing function,
// otherwise yields the value (void for Result<void>).
#define MOOR_CONCAT_(a, b) a##b
#define MOOR_CONCAT(a, b) MOOR_CONCAT_(a, b)
#define TRY(expr) MOOR_TRY_IMPL_(expr, MOOR_CONCAT(try_r_, __COUNTER__))
#define MOOR_TRY_IMPL_(expr, r)                                    \
  ({                                                               \
    auto&& r = (expr);                                             \
    if (!r) return std::unexpected(std::move(r.error()));          \
    ::moor::detail::TakeValue(std::move(r));                       \
  })
// TRY_CTX(expr, "context"): as TRY, prepending context to the error.
#define TRY_CTX(expr, ctx) MOOR_TRY_CTX_IMPL_(expr, ctx, MOOR_CONCAT(try_r_, __COUNTER__))
#define MOOR_TRY_CTX_IMPL_(expr, ctx, r)                           \
  ({                                                               \
    auto&& r = (expr);                                             \
    if (!r) return std::unexpected(std::move(r.error()).Wrap(ctx)); \
    ::moor::detail::TakeValue(std::move(r));                       \
  })
