// The command builder both forms use (send a command, start a job): the
// fields of index.html's <template id="command-fields"> put into a form's
// [data-command-fields] slot, shown for the chosen kind, and read back as the
// API's `Command` JSON. Each slot is its own <fieldset>, so its controls are
// looked up there and cannot clash with the form's other fields.

// Each command kind's actions (proto/hive/bridge/v1/commands.proto) and the
// optional fields the form shows for it.
const KINDS = {
  schedulerAction: { actions: ["ACTION_START", "ACTION_STOP"], fields: ["instance", "account"] },
  deviceCommand: { actions: ["ACTION_CHECK_DISK_SPACE", "ACTION_REBOOT"], fields: [] },
  upgradeDevice: { actions: ["ACTION_UPGRADE"], fields: ["version"] },
  appInstanceCommand: { actions: ["ACTION_CREATE_USER", "ACTION_CONFIGURE"], fields: ["instance", "account"] },
  raw: { actions: [], fields: ["raw"] },
};

function showKind(fields) {
  const controls = fields.elements;
  const kind = KINDS[controls.kind.value];
  controls.commandAction.replaceChildren(...kind.actions.map((a) => {
    const option = document.createElement("option");
    option.value = option.textContent = a;
    return option;
  }));
  for (const label of fields.querySelectorAll("label[data-for]")) {
    const name = label.dataset.for;
    label.hidden = name === "action" ? kind.actions.length === 0 : !kind.fields.includes(name);
  }
}

// Fills `form`'s slot with the command fields; returns their <fieldset>.
export function mountCommandFields(form) {
  const slot = form.querySelector("[data-command-fields]");
  const fields = document.querySelector("#command-fields").content.firstElementChild.cloneNode(true);
  slot.replaceWith(fields);
  fields.elements.kind.addEventListener("change", () => showKind(fields));
  showKind(fields);
  return fields;
}

// The `Command` the fieldset describes; a SyntaxError when "More fields" is
// not a JSON object.
export function commandOf(fields) {
  const controls = fields.elements;
  const kind = controls.kind.value;
  const extra = controls.fields.value.trim() ? JSON.parse(controls.fields.value) : {};
  if (typeof extra !== "object" || Array.isArray(extra) || extra === null) {
    throw new SyntaxError("More fields: expected a JSON object");
  }
  if (kind === "raw") return { raw: { command: controls.raw.value.trim(), payload: extra } };
  const command = { action: controls.commandAction.value, ...extra };
  for (const name of KINDS[kind].fields) {
    if (controls[name].value.trim()) command[name] = controls[name].value.trim();
  }
  return { [kind]: command };
}
