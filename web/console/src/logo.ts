/** The app's avatar, inline so the console never fetches anything remote. */
const svg =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 36"><rect width="36" height="36" rx="8" fill="#2e7d6b"/>' +
  '<path d="M9 11h18v4H14v3h11v4H14v5H9z" fill="#fff"/></svg>';

export const APP_LOGO = `data:image/svg+xml;utf8,${encodeURIComponent(svg)}`;
