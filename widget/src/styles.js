// The widget's stylesheet, inside its shadow root: the host page's CSS cannot reach it.
// Colours are custom properties on .root; .dark and data-color override them. Sides are
// logical (inline-start/end): the layout mirrors in right-to-left pages and languages.

export const STYLE = `
:host{all:initial}
.root{--a:#2563eb;--af:#fff;--bg:#fff;--fg:#1f2328;--mu:#57606a;--bd:#8c959f;--ln:#d0d7de;--sf:#f6f8fa;--lk:#0550ae;--fr:#0969da;--nb:#fff8c5;--nf:#4d2d00;--er:#b42318;--own:#eef4ff;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);text-align:start}
.root.dark{--bg:#161b22;--fg:#e6edf3;--mu:#9198a1;--bd:#6e7681;--ln:#30363d;--sf:#0d1117;--lk:#58a6ff;--fr:#58a6ff;--nb:#3b2e00;--nf:#f8e3a1;--er:#ff8182;--own:#1c2a44}
*{box-sizing:border-box;margin:0;padding:0;letter-spacing:normal;text-transform:none}
[hidden]{display:none!important}
button,input,textarea{font:inherit;color:inherit;background:none;border:0}
button{cursor:pointer;border-radius:8px;padding:8px 12px;background:var(--a);color:var(--af);font-weight:600}
button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:2px solid var(--fr);outline-offset:2px}
.link{padding:0;background:none;color:var(--lk);font-weight:400;text-decoration:underline}
a{color:var(--lk)}
.launcher{position:fixed;inset-inline-end:20px;bottom:20px;z-index:2147483000;border-radius:24px;padding:12px 18px;box-shadow:0 4px 14px rgba(0,0,0,.25)}
.left .launcher,.floating.left .panel{right:auto;left:20px}
.right .launcher,.floating.right .panel{left:auto;right:20px}
.badge{display:inline-block;min-width:20px;margin-inline-start:8px;padding:0 6px;border-radius:10px;background:#b42318;color:#fff;font-size:12px;line-height:20px;text-align:center}
.panel{position:relative;display:flex;flex-direction:column;background:var(--bg);border:1px solid var(--ln);border-radius:12px;overflow:hidden;height:480px}
.floating .panel{position:fixed;inset-inline-end:20px;bottom:84px;z-index:2147483000;width:370px;height:min(560px,calc(100vh - 104px));box-shadow:0 8px 30px rgba(0,0,0,.3);animation:pop .15s ease-out}
@keyframes pop{from{opacity:0;transform:translateY(8px)}}
header{display:flex;align-items:center;gap:6px;padding:8px;padding-inline:14px 10px;background:var(--a);color:var(--af)}
h2{flex:1;font-size:15px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
header button{padding:4px 8px;font-size:12px;font-weight:400;background:none;color:inherit;border:1px solid transparent}
header button:hover{border-color:currentColor}
.x{font-size:20px;line-height:1}
.bar{display:flex;align-items:center;gap:8px;padding:4px 14px;border-bottom:1px solid var(--ln);font-size:12px;color:var(--mu)}
.bar .link{font-size:12px}
.status::before{content:"";display:inline-block;width:8px;height:8px;margin-inline-end:5px;border-radius:50%;background:#d4a72c}
.status.online::before{background:#2da44e}
.me{margin-inline-start:auto;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.people{max-height:120px;overflow-y:auto;padding:6px 14px;border-bottom:1px solid var(--ln);list-style:none}
.notice{padding:8px 14px;background:var(--nb);color:var(--nf);border-bottom:1px solid var(--ln)}
.more{margin:6px auto 0;padding:4px 10px;font-size:12px;background:var(--sf);color:var(--fg);border:1px solid var(--ln)}
.messages{flex:1;overflow-y:auto;padding:6px 10px;list-style:none;overscroll-behavior:contain}
.empty{padding:16px 4px;color:var(--mu)}
.msg{position:relative;display:flex;gap:8px;margin:2px 0;padding:4px;border-radius:8px}
.msg.own{background:var(--own)}
.av{flex:none;display:flex;align-items:center;justify-content:center;width:30px;height:30px;border-radius:50%;color:#fff;font-size:12px;font-weight:600;overflow:hidden}
.av img{width:100%;height:100%;object-fit:cover}
.body{flex:1;min-width:0}
.author{font-weight:600}
.kind,.time,.state,.tag,.sys,.typing,.hint{font-size:12px;color:var(--mu)}
.kind,.time,.state,.tag{margin-inline-start:6px}
.tag:empty{display:none}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
[data-state=sending] .text{opacity:.75}
[data-state=failed] .state{color:var(--er)}
.rep{position:absolute;top:2px;inset-inline-end:2px;padding:2px 6px;font-size:11px;font-weight:400;background:var(--bg);color:var(--fg);border:1px solid var(--ln);opacity:0}
.msg:hover .rep,.msg:focus-within .rep,.rep:focus{opacity:1}
.repform{display:flex;gap:6px;margin-top:4px}
.repform input{flex:1}
.repform button{padding:4px 8px;font-size:12px}
.sys{margin:4px 0;text-align:center}
.jump{position:absolute;left:50%;bottom:120px;transform:translateX(-50%);padding:4px 12px;font-size:12px;border-radius:14px;box-shadow:0 2px 8px rgba(0,0,0,.3)}
.typing{min-height:18px;padding:0 14px}
form{display:flex;flex-direction:column;gap:8px;padding:10px 14px;border-top:1px solid var(--ln)}
form .row{display:flex;gap:8px;align-items:flex-end}
label{font-size:13px}
input,textarea{flex:1;min-width:0;width:100%;padding:8px;border:1px solid var(--bd);border-radius:8px;background:var(--bg)}
textarea{resize:none;max-height:120px}
.links{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px}
.msgbox{font-size:13px}
.msgbox.err{color:var(--er)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){.floating .panel{position:fixed;inset:0;width:auto;height:auto;height:100dvh;border:0;border-radius:0}.floating.open .launcher{display:none}input,textarea{font-size:16px}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important;scroll-behavior:auto!important}}`;
