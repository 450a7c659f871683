// Login page: exchange the API key for a session cookie, then go back where the user was.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('login');
  const error = document.getElementById('login-error');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const key = document.getElementById('api-key').value;
    let res;
    try {
      res = await fetch('/console/login', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'xsoar-console' },
        body: JSON.stringify({ key }),
      });
    } catch (e) {
      error.textContent = 'The console server cannot be reached.';
      error.hidden = false;
      return;
    }
    if (!res.ok) {
      let message = 'Login failed.';
      try {
        message = (await res.json()).error || message;
      } catch (e) {
        // Keep the generic message.
      }
      error.textContent = message;
      error.hidden = false;
      return;
    }
    const next = new URLSearchParams(location.search).get('next') || '/';
    // Only same-site paths: never `//host` or `https://…`.
    location.assign(next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/');
  });
});
