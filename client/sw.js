// Chaski's service worker: keeps the app shell on the tablet so the app opens with no network,
// and lets a new build replace the old one on the next online load.
//
// The two placeholders below are replaced after every build by client/build/sw-manifest.sh (a
// Trunk post_build hook): BUILD becomes a digest of every file of the build, PRECACHE the list of
// those files. A changed build therefore means a changed sw.js, which the browser installs as a
// new worker with a new cache.
'use strict';

const BUILD = "__CHASKI_BUILD_VERSION__";
const PRECACHE = [/* __CHASKI_PRECACHE__ */];
// Files of this build that are not precached (they are not part of the first load) but are
// kept once fetched: the seal module (client/build/sealer.sh). The app asks for them after
// sign-in and at each online start (the `cache-lazy` message below), so that sealing works
// offline; a new build's worker takes them over from the old cache when it installs.
const LAZY = [/* __CHASKI_LAZY__ */];

const CACHE_PREFIX = 'chaski-shell-';
const SHELL_FILES = new Set(PRECACHE);
const LAZY_FILES = new Set(LAZY);
const CACHE = CACHE_PREFIX + BUILD;
// The document every navigation falls back to when the network does not answer in time.
const SHELL = '/index.html';
// Long enough for a slow 3G or satellite link to answer, short enough that an inspector on a
// dead link is not left staring at a blank screen.
const NAVIGATION_TIMEOUT_MS = 3000;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // A tablet that had the seal module keeps it across the update: the old cache, which holds
    // it, is deleted when this worker activates, and the app asks for it again only at its
    // next online start, which may come after the tablet has gone offline. (Its JS glue,
    // /sealer.js, has the same name in every build.)
    let had = false;
    for (const name of await caches.keys()) {
      if (!name.startsWith(CACHE_PREFIX) || name === CACHE) continue;
      const old = await caches.open(name);
      for (const url of LAZY) if (await old.match(url)) had = true;
    }
    // `reload` bypasses the HTTP cache: index.html must be this build's, not a stale copy.
    // addAll is atomic: if any file fails, the install fails and the old worker (with its
    // cache) stays.
    await cache.addAll(PRECACHE.concat(had ? LAZY : []).map((url) => new Request(url, { cache: 'reload' })));
    // Take over at once rather than waiting for every tab to close: the new build's assets are
    // all precached, and old pages keep working from the HTTP cache or the network.
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    // Only our own caches: other caches on the origin (e.g. future data or photo caches) are
    // not the shell's to delete.
    await Promise.all(names
      .filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE)
      .map((name) => caches.delete(name)));
    // A seal module asked for while this worker installed (a first visit: the app asks right
    // after sign-in) is cached before the worker takes the page, so that a tablet taken
    // offline as soon as the app works offline can seal too.
    await lazy;
    await self.clients.claim();
  })());
});

// The app's request to keep the seal module now (after sign-in, at each online start): fetched
// by the worker itself, so it does not matter whether the worker controls the page yet (on the
// first visit it does not), and nothing is instantiated in the page.
let lazy = null;
self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'cache-lazy') event.waitUntil(lazy = cacheLazy());
});

async function cacheLazy() {
  try {
    const cache = await caches.open(CACHE);
    const missing = [];
    for (const url of LAZY) if (!await cache.match(url)) missing.push(new Request(url, { cache: 'reload' }));
    await cache.addAll(missing);
  } catch (_) {
    // Offline or refused: the app asks again at its next online start.
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  // Writes must reach the server (or fail visibly); never answer them from a cache.
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  // Other origins are none of our business.
  if (url.origin !== self.location.origin) return;
  // The worker itself is fetched by the browser's update check, which must see the network.
  if (url.pathname === '/sw.js') return;
  // The regional office's app (a separate build under /office/) is not the inspector's: its
  // pages and files always come from the network, and never enter the tablet's cache.
  if (url.pathname === '/office' || url.pathname.startsWith('/office/')) return;

  if (request.mode === 'navigate') {
    event.respondWith(navigate(request));
  } else if (SHELL_FILES.has(url.pathname) || LAZY_FILES.has(url.pathname) || isContentHashed(url.pathname)) {
    event.respondWith(cacheFirst(request));
  }
  // Anything else is data (the /api and /db sync endpoints, photos): it must come fresh from
  // the network, and the sync code handles being offline itself. A cached `_changes` answer
  // would silently stop sync.
});

// Files of a build, named `<stem>-<hex hash>.<ext>` by Trunk: never change under one name.
function isContentHashed(path) {
  return /-[0-9a-f]{12,64}(_bg)?\.(js|wasm|css)$/.test(path);
}

// Network first, so an online reload after a deploy shows the new build at once; the cached
// shell when the network fails, is too slow, or the server errs (the client router then shows
// the right page, whatever the path).
async function navigate(request) {
  try {
    const response = await withTimeout(fetch(request), NAVIGATION_TIMEOUT_MS);
    if (response.status < 500) return response;
  } catch (_) {
    // Offline, timed out or refused: fall through to the cached shell.
  }
  const cached = await caches.match(SHELL, { cacheName: CACHE }) || await caches.match(SHELL);
  if (cached) return cached;
  // Nothing cached (first visit while offline): let the browser show its own error.
  return fetch(request);
}

// Hashed assets never change under the same name, so a cached copy is always right; anything
// missing (e.g. a file of a newer build loaded by a fresh index.html) is fetched and kept.
async function cacheFirst(request) {
  const cached = await caches.match(request, { cacheName: CACHE });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') {
    const copy = response.clone();
    const kept = caches.open(CACHE).then((cache) => cache.put(request, copy)).catch(() => {});
    // A file fetched ahead of going offline (the seal module) is kept before the app is told
    // it has it, so that "loaded" means "there offline too".
    if (LAZY_FILES.has(new URL(request.url).pathname)) await kept;
  }
  return response;
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (error) => { clearTimeout(timer); reject(error); },
    );
  });
}
