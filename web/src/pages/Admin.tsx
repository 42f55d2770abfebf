import { Page } from '../components/Page';

// Placeholder: the page is built by its owner (see the dashboard issue).
export default function Admin() {
  return <Page title="Admin">{null}</Page>;
}
