// Files the bundle inlines as text (scripts/assets.mjs): the dashboard's markup, style, and its
// browser script compiled and bundled on its own (an import ending in "?script").
declare module '*.html' {
  const text: string;
  export default text;
}
declare module '*.css' {
  const text: string;
  export default text;
}
declare module '*?script' {
  const text: string;
  export default text;
}
