// Safetensors reading and writing: 8-byte little-endian header length, a JSON
// header (dtype, shape, data_offsets per tensor, optional __metadata__ of
// strings), then the raw data. Every malformation is an Error naming the file.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace laco {

/// A loaded safetensors file. Usage: auto f = SafeTensors::load(path); f.get("input.x");
class SafeTensors {
 public:
  static SafeTensors load(const std::string& path);
  /// Parses an in-memory image; `source` names it in errors.
  static SafeTensors parse(const std::string& bytes, const std::string& source);

  const std::string& source() const { return source_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  /// The tensor `name` (CPU, its stored dtype); an Error naming file and tensor if absent.
  const torch::Tensor& get(const std::string& name) const;
  /// Tensor names in data order.
  const std::vector<std::string>& names() const { return order_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string source_;
  std::map<std::string, torch::Tensor> tensors_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// Serialises tensors (any device; written from CPU copies) in the given order.
std::string serialize_safetensors(const NamedTensors& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

/// Writes atomically: a temporary beside `path`, then a rename.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace laco
