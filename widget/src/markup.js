// The widget's markup: static, no text in it. Every text is set later with textContent, from
// the data-t keys named here (lang/*.json). The data-chatctl names are for tests and host pages.
// Plain strings, one line per part (a form, the header...), so that they compress well. The
// account forms come with the on-demand part (accountmarkup.js).

const HEADER = `<header><h2 id="title"></h2><button type="button" class="snd"></button><button type="button" class="x"><span aria-hidden="true">&times;</span></button></header>`;

const STATUS_BAR = `<div class="bar"><span class="status" data-chatctl="status"></span><button type="button" class="link who" aria-expanded="false" aria-controls="people" hidden></button><span class="me"></span><button type="button" class="link out" data-t="signOut" hidden></button></div>`;

// A guest's nickname.
const NICK_FORM = `<form class="nick" data-chatctl="nick" hidden><label for="nick" data-t="pickNick"></label><div class="row"><input id="nick" name="nick" maxlength="32" autocomplete="nickname" required><button class="go" data-t="join"></button></div><p class="links"><button type="button" class="link" data-to="login" data-t="signIn"></button><button type="button" class="link" data-to="register" data-t="register"></button></p></form>`;

const COMPOSER_FORM = `<form class="composer" data-chatctl="composer" hidden><label for="text" class="sr" data-t="message"></label><div class="row"><textarea id="text" name="text" rows="1"></textarea><button class="go" data-t="send"></button></div></form>`;

export const HTML = `<div class="root">
<button type="button" class="launcher" aria-expanded="false" aria-controls="panel"><span class="lt"></span><span class="badge" hidden></span></button>
<section class="panel" id="panel" aria-labelledby="title">
${HEADER}
${STATUS_BAR}
<ul class="people" id="people" hidden></ul>
<p class="notice" data-chatctl="notice" role="alert" hidden></p>
<button type="button" class="more" data-t="older" hidden></button>
<ol class="messages" data-chatctl="messages" tabindex="0"></ol>
<button type="button" class="jump" hidden></button>
<div class="typing" aria-hidden="true"></div>
<div class="sr" aria-live="polite" data-chatctl="live"></div>
${NICK_FORM}
${COMPOSER_FORM}
</section></div>`;
