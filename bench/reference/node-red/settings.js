// SPDX-License-Identifier: Apache-2.0
// Node-RED settings for the benchmark peer: no editor, quiet logs, flows from the user dir.
module.exports = {
  flowFile: 'flows.json',
  credentialSecret: false,
  httpAdminRoot: false,
  uiHost: '127.0.0.1',
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false } },
};
