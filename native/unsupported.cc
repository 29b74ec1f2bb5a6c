// Platforms without flock (Windows): an empty addon. The pidfile backend serves them, and the
// flock backend reports itself unavailable instead of failing to load.
#include <napi.h>

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }

NODE_API_MODULE(lockedfile, Init)
