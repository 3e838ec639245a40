#include "trace/report.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"

namespace sisyphus::trace {
namespace {

double log10_abs(const LayerStats& s) {
  if (s.nan > 0 || s.inf > 0 || !std::isfinite(s.max_abs)) return INFINITY;
  return s.max_abs > 0 ? std::log10(s.max_abs) : -INFINITY;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

// "1e+03", "inf", "nan"
std::string magnitude(const LayerStats& s) {
  if (s.nan > 0) return "NaN";
  if (s.inf > 0 || !std::isfinite(s.max_abs)) return "Inf";
  return fmt("%.3g", s.max_abs);
}

std::string pad(const std::string& s, size_t w) {
  return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' ');
}

std::string verdict(const TraceRecord& r, const std::vector<std::string>& layers) {
  int k = escaping_layer(r);
  return k < 0 ? "bounded (no escaping)"
               : "escaping from layer " + std::to_string(k) + " (" +
                     layers[static_cast<size_t>(k)] + ")";
}

}  // namespace

std::vector<Series> eval_series(const TraceFile& file) {
  std::map<std::string, size_t> last;  // series name -> record index
  std::vector<std::string> order;
  for (size_t i = 0; i < file.records.size(); ++i) {
    const TraceRecord& r = file.records[i];
    if (r.phase != "eval") continue;
    std::string name = r.source + (r.mode == "-" ? "" : " [" + r.mode + "]");
    if (!last.count(name)) order.push_back(name);
    last[name] = i;
  }
  std::vector<Series> out;
  for (const auto& n : order) out.push_back({n, &file.records[last[n]]});
  return out;
}

int escaping_layer(const TraceRecord& r) {
  std::vector<double> e;
  for (const auto& s : r.layers) e.push_back(log10_abs(s));
  for (size_t k = 0; k < e.size(); ++k) {
    if (!std::isfinite(e[k]) && e[k] > 0) return static_cast<int>(k);  // NaN/Inf from here
    // two successive growth factors of the exponent >= 1.5, starting at >= 1
    if (k + 2 < e.size() && e[k] >= 1 && e[k + 1] >= 1.5 * e[k] && e[k + 2] >= 1.5 * e[k + 1])
      return static_cast<int>(k);
  }
  return -1;
}

std::string summary(const TraceFile& file) {
  const auto& layers = file.header.layers;
  std::vector<Series> series = eval_series(file);
  std::ostringstream out;
  out << file.path << ": " << file.header.network << " on " << file.header.dataset << ", run '"
      << file.header.run << "', " << file.records.size() << " records, " << layers.size()
      << " layers (" << file.header.program << ")\n";
  // worst max |x| per layer over every record; first NaN/Inf
  std::vector<double> worst(layers.size(), 0.0);
  std::string first_bad;
  for (const auto& r : file.records) {
    for (size_t l = 0; l < layers.size(); ++l) {
      const LayerStats& s = r.layers[l];
      worst[l] = std::max(worst[l], (s.nan > 0 || s.inf > 0) ? INFINITY : s.max_abs);
      if (first_bad.empty() && (s.nan > 0 || s.inf > 0))
        first_bad = "layer " + std::to_string(l) + " (" + layers[l] + "), " + r.phase +
                    " of stage " + r.stage + " at step " + std::to_string(r.step) + ": " +
                    std::to_string(s.nan) + " NaN, " + std::to_string(s.inf) + " Inf";
    }
  }
  size_t w = 6;
  for (const auto& n : layers) w = std::max(w, n.size() + 1);
  for (const auto& s : series) {
    out << "\n"
        << s.name << ": last evaluation (stage " << s.record->stage << ", step " << s.record->step
        << ", " << s.record->samples << " samples)\n";
    out << "  " << pad("#", 4) << pad("layer", w) << pad("max|x|", 11) << pad("log10", 8)
        << pad("growth", 10) << pad("worst seen", 11) << "NaN/Inf\n";
    double prev = NAN;
    for (size_t l = 0; l < layers.size(); ++l) {
      const LayerStats& st = s.record->layers[l];
      double e = log10_abs(st);
      std::string growth = "";
      if (l > 0 && std::isfinite(e) && std::isfinite(prev))
        growth = "x10^" + fmt("%+.1f", e - prev);
      out << "  " << pad(std::to_string(l), 4) << pad(layers[l], w) << pad(magnitude(st), 11)
          << pad(std::isfinite(e) ? fmt("%.2f", e) : "inf", 8) << pad(growth, 10)
          << pad(std::isfinite(worst[l]) ? fmt("%.3g", worst[l]) : "Inf", 11) << (st.nan + st.inf)
          << "\n";
      prev = e;
    }
    out << "  verdict: " << verdict(*s.record, layers) << "\n";
  }
  if (series.empty()) out << "\nno evaluation records yet\n";
  out << "\nfirst NaN/Inf: " << (first_bad.empty() ? "none" : first_bad) << "\n";
  return out.str();
}

std::string compare(const std::vector<TraceFile>& files) {
  const std::vector<std::string>& layers = files.at(0).header.layers;
  std::vector<std::pair<std::string, const TraceRecord*>> cols;
  for (const auto& f : files) {
    if (f.header.layers.size() != layers.size())
      SISYPHUS_FAIL(ErrorKind::kConfig, "trace compare: '" + f.path + "' has " +
                                            std::to_string(f.header.layers.size()) + " layers, '" +
                                            files[0].path + "' has " +
                                            std::to_string(layers.size()));
    for (const auto& s : eval_series(f)) cols.emplace_back(s.name, s.record);
  }
  if (cols.empty())
    SISYPHUS_FAIL(ErrorKind::kConfig, "trace compare: no evaluation records in these files");
  std::ostringstream out;
  out << "max |x| per layer at the last evaluation (log10 in parentheses)\n";
  size_t w = 6;
  for (const auto& n : layers) w = std::max(w, n.size() + 1);
  out << pad("#", 4) << pad("layer", w);
  for (size_t c = 0; c < cols.size(); ++c) out << pad("[" + std::to_string(c + 1) + "]", 18);
  out << "\n";
  for (size_t l = 0; l < layers.size(); ++l) {
    out << pad(std::to_string(l), 4) << pad(layers[l], w);
    for (const auto& [name, r] : cols) {
      double e = log10_abs(r->layers[l]);
      out << pad(magnitude(r->layers[l]) + (std::isfinite(e) ? " (" + fmt("%.1f", e) + ")" : ""),
                 18);
    }
    out << "\n";
  }
  for (size_t c = 0; c < cols.size(); ++c)
    out << "[" << c + 1 << "] " << cols[c].first << ": " << verdict(*cols[c].second, layers)
        << "\n";
  return out.str();
}

void plot(const std::vector<TraceFile>& files, const std::string& out_png,
          const std::string& title) {
  std::vector<std::pair<std::string, const TraceRecord*>> cols;
  for (const auto& f : files)
    for (const auto& s : eval_series(f)) cols.emplace_back(s.name, s.record);
  if (cols.empty())
    SISYPHUS_FAIL(ErrorKind::kConfig, "trace plot: no evaluation records in these files");
  const std::string data = out_png + ".dat", script = out_png + ".gp";
  {
    std::FILE* f = std::fopen(data.c_str(), "w");
    if (!f) SISYPHUS_FAIL(ErrorKind::kIo, "cannot write '" + data + "'");
    // Inf/NaN layers are plotted at the top of the axis (log10 of float32's max) and marked.
    for (size_t l = 0; l < files[0].header.layers.size(); ++l) {
      std::fprintf(f, "%zu", l);
      for (const auto& c : cols) {
        double e = l < c.second->layers.size() ? log10_abs(c.second->layers[l]) : NAN;
        std::fprintf(f, " %s",
                     std::isfinite(e) ? fmt("%.4f", e).c_str() : (e > 0 ? "38.5" : "NaN"));
      }
      std::fprintf(f, "\n");
    }
    if (std::fclose(f) != 0) SISYPHUS_FAIL(ErrorKind::kIo, "cannot write '" + data + "'");
  }
  {
    std::FILE* f = std::fopen(script.c_str(), "w");
    if (!f) SISYPHUS_FAIL(ErrorKind::kIo, "cannot write '" + script + "'");
    std::fprintf(f, "set terminal png size 900,560\nset output '%s'\n", out_png.c_str());
    std::fprintf(f, "set title \"%s\"\nset xlabel 'layer (imitation point)'\n", title.c_str());
    std::fprintf(f, "set ylabel 'log10(max |x|)'\nset key top left\nset grid\nset yrange [*:*]\n");
    std::fprintf(f, "plot ");
    for (size_t c = 0; c < cols.size(); ++c) {
      std::string label = cols[c].first;
      for (auto& ch : label)
        if (ch == '"' || ch == '_') ch = ' ';
      std::fprintf(f, "%s'%s' using 1:%zu with linespoints title \"%s\"", c ? ", " : "",
                   data.c_str(), c + 2, label.c_str());
    }
    std::fprintf(f, "\n");
    if (std::fclose(f) != 0) SISYPHUS_FAIL(ErrorKind::kIo, "cannot write '" + script + "'");
  }
  const std::string cmd = "gnuplot '" + script + "' 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) SISYPHUS_FAIL(ErrorKind::kIo, "cannot run gnuplot (install gnuplot-nox)");
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof(buf), p)) output += buf;
  int status = ::pclose(p);
  std::remove(data.c_str());
  std::remove(script.c_str());
  if (status != 0) {
    std::string first = output.substr(0, output.find('\n'));
    SISYPHUS_FAIL(ErrorKind::kIo, WIFEXITED(status) && WEXITSTATUS(status) == 127
                                      ? "gnuplot is not installed (apt-get install gnuplot-nox)"
                                      : "gnuplot failed: " + first);
  }
  if (!fs::file_exists(out_png))
    SISYPHUS_FAIL(ErrorKind::kIo, "gnuplot wrote no '" + out_png + "'");
}

}  // namespace sisyphus::trace
