// The non-template half of decode.h: the clone child's error-pipe report.
#include "decode.h"

#ifdef __linux__

#include <errno.h>
#include <string.h>

#include "child_linux.h"

namespace coreproc {

bool DecodeChildReport(const unsigned char* bytes, size_t n, const std::string& cwd,
                       const std::string& path, SpawnError* error,
                       const std::vector<std::string>* roots) {
  if (n == 0) return false;
  int msg[3];
  if (n != sizeof msg) {
    // The child writes its report in one write below PIPE_BUF, so this is a child that died
    // mid-report; it is still a failed spawn, not a running child.
    *error = {EPROTO, "read", "spawn", "", ""};
    return true;
  }
  memcpy(msg, bytes, sizeof msg);  // the pipe's bytes carry no alignment
  int stage = msg[0];
  int err = msg[1] > 0 && msg[1] <= 4095 ? msg[1] : EPROTO;
  *error = {err, ChildStageSyscall(stage), ChildStageName(stage),
            stage == kStageChdir ? cwd : (stage == kStageExec ? path : std::string()), ""};
  if (stage == kStageRlimit) error->resource = RlimitName(msg[2]);
  // Which write root the read-only remount could not keep writable.
  if (stage == kStageMountReadonly && roots != nullptr && msg[2] >= 0 &&
      static_cast<size_t>(msg[2]) < roots->size()) {
    error->path = (*roots)[static_cast<size_t>(msg[2])];
  }
  return true;
}

}  // namespace coreproc

#endif  // __linux__
