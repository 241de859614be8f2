// tests/support/temp_dir.hpp - a fresh temporary directory for one test.
#pragma once

#include <atomic>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

#include <unistd.h>

namespace coftp_test {

namespace fs = std::filesystem;

/// A fresh directory under the system's temporary directory, removed with its content.
class temp_dir {
 public:
  temp_dir() {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    for (int attempt = 0; attempt < 100 && path_.empty(); ++attempt) {
      auto p = fs::temp_directory_path() / ("coftp-test-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(counter++) + "-" + std::to_string(rd()));
      std::error_code ec;
      if (fs::create_directory(p, ec)) path_ = p;
    }
    if (path_.empty()) throw std::runtime_error("cannot create a temporary directory");
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);  // removes symlinks, never follows them
  }
  const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
};

}  // namespace coftp_test
