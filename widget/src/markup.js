// The widget's markup: static, no text in it. Every text is set later with textContent, from
// the data-t keys named here (lang/*.json). The data-chatctl names are for tests and host pages.
// Plain strings, one line per part (a form, the header...), so that they compress well.

const HEADER = `<header><h2 id="title"></h2><button type="button" class="snd"></button><button type="button" class="x"><span aria-hidden="true">&times;</span></button></header>`;

const STATUS_BAR = `<div class="bar"><span class="status" data-chatctl="status"></span><button type="button" class="link who" aria-expanded="false" aria-controls="people" hidden></button><span class="me"></span><button type="button" class="link out" data-t="signOut" hidden></button></div>`;

// A guest's nickname.
const NICK_FORM = `<form class="nick" data-chatctl="nick" hidden><label for="nick" data-t="pickNick"></label><div class="row"><input id="nick" name="nick" maxlength="32" autocomplete="nickname" required><button class="go" data-t="join"></button></div><p class="links"><button type="button" class="link" data-to="login" data-t="signIn"></button><button type="button" class="link" data-to="register" data-t="register"></button></p></form>`;

const LOGIN_FORM = `<form class="login" data-chatctl="login" hidden><p class="msgbox" role="status"></p><label for="le" data-t="email"></label><input id="le" name="email" type="email" autocomplete="email" required><label for="lp" data-t="password"></label><input id="lp" name="password" type="password" autocomplete="current-password" required><button class="go" data-t="signIn"></button><p class="links"><button type="button" class="link" data-to="register" data-t="register"></button><button type="button" class="link" data-to="forgot" data-t="forgot"></button><button type="button" class="link" data-to="resend" data-t="resend"></button><button type="button" class="link" data-to="nick" data-t="asGuest"></button></p></form>`;

const REGISTER_FORM = `<form class="register" data-chatctl="register" hidden><p class="msgbox" role="status"></p><label for="rn" data-t="name"></label><input id="rn" name="name" maxlength="32" autocomplete="nickname" required><label for="re" data-t="email"></label><input id="re" name="email" type="email" autocomplete="email" required><label for="rp" data-t="password"></label><input id="rp" name="password" type="password" autocomplete="new-password" minlength="10" aria-describedby="rh" required><span id="rh" class="hint" data-t="passwordRule"></span><button class="go" data-t="createAccount"></button><p class="links"><button type="button" class="link" data-to="login" data-t="signIn"></button><button type="button" class="link" data-to="nick" data-t="asGuest"></button></p></form>`;

// One form for both "forgot password" and "resend confirmation" (its data-mode says which).
const MAIL_FORM = `<form class="mail" data-chatctl="mail" hidden><p class="msgbox" role="status"></p><label for="me" data-t="email"></label><input id="me" name="email" type="email" autocomplete="email" required><button class="go"></button><p class="links"><button type="button" class="link" data-to="login" data-t="signIn"></button></p></form>`;

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
${LOGIN_FORM}
${REGISTER_FORM}
${MAIL_FORM}
${COMPOSER_FORM}
</section></div>`;
