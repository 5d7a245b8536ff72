#include "services/orchestrator/pipeline/pipeline_spec_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace voxflow::orchestrator {

extern const char kDefaultPipelineText[];  // Generated from pipelines/voice_chat.textproto.

namespace {

// Collects the parser's complaints as "source:line:column: message".
class ErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(absl::string_view source) : source_(source) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    // The parser counts from 0; editors count from 1.
    errors_.push_back(absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}

  std::string Text() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

}  // namespace

absl::StatusOr<v1::PipelineSpec> ParsePipelineSpec(absl::string_view text,
                                                   absl::string_view source) {
  v1::PipelineSpec spec;
  ErrorCollector errors(source);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &spec)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot parse pipeline: ", errors.Text()));
  }
  if (spec.name().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": pipeline has no name"));
  }
  return spec;
}

absl::StatusOr<v1::PipelineSpec> LoadPipelineSpecFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read pipeline file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParsePipelineSpec(text.str(), path);
}

absl::StatusOr<std::vector<v1::PipelineSpec>> LoadPipelineSpecDir(const std::string& dir) {
  std::error_code error;
  std::filesystem::directory_iterator it(dir, error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("cannot list pipelines directory ", dir, ": ", error.message()));
  }
  std::vector<std::string> paths;
  for (const auto& entry : it) {
    if (entry.is_regular_file() && entry.path().extension() == ".textproto") {
      paths.push_back(entry.path().string());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<v1::PipelineSpec> specs;
  absl::flat_hash_set<std::string> names;
  for (const std::string& path : paths) {
    absl::StatusOr<v1::PipelineSpec> spec = LoadPipelineSpecFile(path);
    if (!spec.ok()) return spec.status();
    if (!names.insert(spec->name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": pipeline name '", spec->name(), "' is already used"));
    }
    specs.push_back(*std::move(spec));
  }
  return specs;
}

const v1::PipelineSpec& DefaultPipelineSpec() {
  static const v1::PipelineSpec* const spec = [] {
    absl::StatusOr<v1::PipelineSpec> parsed =
        ParsePipelineSpec(kDefaultPipelineText, "voice_chat.textproto");
    // The text is part of the binary and covered by tests; failing here is a build defect.
    if (!parsed.ok()) std::abort();
    return new v1::PipelineSpec(*std::move(parsed));
  }();
  return *spec;
}

}  // namespace voxflow::orchestrator
