// SPDX-License-Identifier: Apache-2.0
// The block catalogue (GET /v1/blocks, admin), kept for the page's life and refetched after a
// plugin reload. Invoke-only keys get an empty catalogue; graphs then mark roles by type name.
import { api } from './api.js';

let cached = null;

/** {generation, blocks, plugins, byType: Map type → manifest}. */
export async function loadCatalogue({ fresh = false, admin = true } = {}) {
  if (!admin) return { generation: null, blocks: [], plugins: [], byType: new Map() };
  if (!cached || fresh) {
    const body = await api('GET', '/v1/blocks');
    const blocks = Array.isArray(body.blocks) ? body.blocks : [];
    cached = { ...body, blocks, byType: new Map(blocks.map((b) => [b.type, b])) };
  }
  return cached;
}
