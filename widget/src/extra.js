/*! chatctl widget, the part loaded on demand (docs/WIDGET.md, "Two scripts"): the account
 * forms, message reports, refusals (what the visitor reads, what happens next) and the tone. The core script (main.js) loads it through lazy.js the first time
 * a widget needs it, or once the visitor opens the chat; the server joins this file and the ones
 * it imports that the core does not (src/http/bundle.rs).
 */

import { Widget } from "./widget.js";
import { FRAMES } from "./frames.js";
import { accountMethods, accountFrames } from "./accounts.js";
import { reportMethods, reportFrames } from "./report.js";
import { rareMethods } from "./rare.js";
import { refusalMethods } from "./refusals.js";

Object.assign(Widget.prototype, accountMethods, reportMethods, rareMethods, refusalMethods);
Object.assign(FRAMES, accountFrames, reportFrames);
