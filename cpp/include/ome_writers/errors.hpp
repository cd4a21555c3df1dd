// Error type of the ome_writers C++ API.
#pragma once

#include <stdexcept>
#include <string>

#include "ome_writers/export.hpp"

namespace ome_writers {

/// What went wrong, coarse enough to map onto one exception class per code in
/// every language binding (Python: ValueError, TypeError, IndexError, ...).
enum class ErrorCode {
  kInvalidArgument,  ///< a setting or argument has a bad value (Python: ValueError)
  kTypeMismatch,     ///< wrong data type, e.g. a frame dtype (Python: TypeError)
  kIndexOutOfRange,  ///< more frames than the settings declare, or read_frame() outside the
                     ///< arrays (Python: IndexError)
  kFileExists,       ///< output exists and overwrite is off (Python: FileExistsError)
  kIo,               ///< the operating system or a file library failed (Python: OSError)
  kNotImplemented,   ///< a valid request this engine does not support (Python: NotImplementedError)
  kTimeout,          ///< backpressure did not clear in time (Python: TimeoutError)
  kClosed,           ///< the stream is closed (Python: RuntimeError)
  kInternal,         ///< a bug in ome_writers (Python: RuntimeError)
};

/// Name of an error code, e.g. "invalid_argument".
OME_WRITERS_EXPORT const char* error_code_name(ErrorCode code) noexcept;

/// The single exception type thrown by ome_writers. The message names the
/// offending value; code() says which kind of failure it is.
class OME_WRITERS_EXPORT Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, int system_errno = 0)
      : std::runtime_error(message), code_(code), system_errno_(system_errno) {}

  /// The kind of failure.
  ErrorCode code() const noexcept { return code_; }
  /// The errno of the failed operating-system call (kIo), unchanged (e.g. EFBIG, ENOSPC);
  /// 0 when there is none.
  int system_errno() const noexcept { return system_errno_; }

 private:
  ErrorCode code_;
  int system_errno_;
};

}  // namespace ome_writers
