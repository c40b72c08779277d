<?php
/**
 * The payment gateway `relay`: checkout opens the invoice on the relay and redirects to its payment page.
 *
 * @package Relay_Payments
 */

defined( 'ABSPATH' ) || exit;

/**
 * WooCommerce payment gateway for the relay (DESIGN.md "The WooCommerce gateway plugin").
 */
class Relay_Payments_Gateway extends WC_Payment_Gateway {

	/**
	 * Query argument and nonce action of the settings screen's "Test connection" button.
	 */
	const TEST_ACTION = 'relay_test_connection';

	/**
	 * Set up the gateway from its stored settings.
	 */
	public function __construct() {
		$this->id                 = 'relay';
		$this->has_fields         = false;
		$this->method_title       = __( 'Relay (crypto payments)', 'relay-payments' );
		$this->method_description = __( 'Customers pay in ETH or stablecoins on the relay\'s payment page; orders are updated when the payment is confirmed. Non-custodial: the relay never holds your funds.', 'relay-payments' );
		$this->supports           = array( 'products', 'refunds' );

		$this->init_form_fields();
		$this->init_settings();
		$this->enabled     = $this->get_option( 'enabled' );
		$this->title       = $this->get_option( 'title' );
		$this->description = $this->get_option( 'description' );

		add_action( 'woocommerce_update_options_payment_gateways_' . $this->id, array( $this, 'process_admin_options' ) );
	}

	/**
	 * The settings of DESIGN.md, in the settings API's field format.
	 */
	public function init_form_fields() {
		$defaults          = Relay_Payments_Settings::defaults();
		$this->form_fields = array(
			'enabled'     => array(
				'title'   => __( 'Enable/Disable', 'relay-payments' ),
				'type'    => 'checkbox',
				'label'   => __( 'Take crypto payments through the relay', 'relay-payments' ),
				'default' => $defaults['enabled'],
			),
			'title'       => array(
				'title'       => __( 'Title', 'relay-payments' ),
				'type'        => 'text',
				'description' => __( 'What the customer sees at checkout.', 'relay-payments' ),
				'default'     => $defaults['title'],
				'desc_tip'    => true,
			),
			'description' => array(
				'title'       => __( 'Description', 'relay-payments' ),
				'type'        => 'textarea',
				'description' => __( 'Shown under the title at checkout.', 'relay-payments' ),
				'default'     => $defaults['description'],
				'desc_tip'    => true,
			),
			'relay_url'   => array(
				'title'       => __( 'Relay URL', 'relay-payments' ),
				'type'        => 'text',
				'description' => __( 'The relay\'s public_url, e.g. https://pay.example.com.', 'relay-payments' ),
				'default'     => $defaults['relay_url'],
				'placeholder' => 'https://pay.example.com',
			),
			'store'       => array(
				'title'       => __( 'Store', 'relay-payments' ),
				'type'        => 'text',
				'description' => __( 'The name of this shop in the relay\'s config: [stores.<name>].', 'relay-payments' ),
				'default'     => $defaults['store'],
			),
			'api_token'   => array(
				'title'       => __( 'API token', 'relay-payments' ),
				'type'        => 'password',
				'description' => __( 'That store\'s api_token in the relay\'s config.', 'relay-payments' ),
				'default'     => $defaults['api_token'],
			),
		);
	}

	/**
	 * Validate the Relay URL field (WC_Settings_API::get_field_value calls validate_<key>_field).
	 *
	 * @param string $key   Field key.
	 * @param mixed  $value Posted value.
	 * @return string
	 */
	public function validate_relay_url_field( $key, $value ) {
		unset( $key );
		return Relay_Payments_Settings::validate_relay_url( $value );
	}

	/**
	 * Validate the Store field.
	 *
	 * @param string $key   Field key.
	 * @param mixed  $value Posted value.
	 * @return string
	 */
	public function validate_store_field( $key, $value ) {
		unset( $key );
		return Relay_Payments_Settings::validate_store( $value );
	}

	/**
	 * Validate the API token field.
	 *
	 * @param string $key   Field key.
	 * @param mixed  $value Posted value.
	 * @return string
	 */
	public function validate_api_token_field( $key, $value ) {
		unset( $key );
		return Relay_Payments_Settings::validate_api_token( $value );
	}

	/**
	 * Save the settings; a field that fails validation keeps its previous value and its error is shown.
	 *
	 * @return bool Whether the option was updated.
	 */
	public function process_admin_options() {
		$saved = parent::process_admin_options();
		if ( class_exists( 'WC_Admin_Settings' ) ) {
			foreach ( $this->get_errors() as $error ) {
				WC_Admin_Settings::add_error( $error );
			}
		}
		return $saved;
	}

	/**
	 * The settings screen, with a "Test connection" button and, after a click, what the relay said.
	 */
	public function admin_options() {
		parent::admin_options();
		$result = null;
		// The nonce is verified in requested_test(); only the saved settings are used.
		if ( $this->requested_test() ) {
			$result = $this->test_connection();
		}
		$url = wp_nonce_url( add_query_arg( self::TEST_ACTION, '1' ), self::TEST_ACTION );
		echo '<h3>' . esc_html__( 'Connection', 'relay-payments' ) . '</h3>';
		if ( null !== $result ) {
			$class = $result['ok'] ? 'notice-success' : 'notice-error';
			echo '<div class="notice inline ' . esc_attr( $class ) . '"><p>' . esc_html( $result['message'] ) . '</p></div>';
		}
		echo '<p><a class="button" href="' . esc_url( $url ) . '">' . esc_html__( 'Test connection', 'relay-payments' ) . '</a> ';
		echo esc_html__( 'Checks the saved Relay URL, Store and API token with the relay.', 'relay-payments' ) . '</p>';
	}

	/**
	 * Call the relay with the saved settings and say what is wrong, if anything.
	 *
	 * @return array{ok: bool, message: string}
	 */
	public function test_connection() {
		$settings = $this->current_settings();
		if ( ! Relay_Payments_Settings::is_complete( $settings ) ) {
			return array(
				'ok'      => false,
				'message' => __( 'Fill in and save Relay URL, Store and API token first.', 'relay-payments' ),
			);
		}
		return ( new Relay_Payments_Client( $settings ) )->check_connection();
	}

	/**
	 * Available only when enabled and fully configured.
	 *
	 * @return bool
	 */
	public function is_available() {
		return parent::is_available() && Relay_Payments_Settings::is_complete( $this->current_settings() );
	}

	/**
	 * Open (or reuse) the order's invoice on the relay and send the customer to its payment page.
	 *
	 * The order stays as it is (pending at checkout); a failed order being paid again goes back to
	 * pending when the relay answers a fresh invoice. On any problem the customer gets a clear error
	 * and nothing is paid: as a notice with result `failure` on the classic checkout and the
	 * pay-for-order page, and as an exception in the Store API (checkout block), which clears
	 * notices after process_payment (StoreApi/Legacy.php process_legacy_payment) and shows an
	 * exception's message instead.
	 *
	 * @param int $order_id The order id.
	 * @return array{result: string, redirect?: string}
	 * @throws Exception In a Store API request, with the message for the customer.
	 */
	public function process_payment( $order_id ) {
		$order = wc_get_order( $order_id );
		if ( ! $order ) {
			return $this->fail( __( 'This order cannot be found.', 'relay-payments' ) );
		}
		$settings = $this->current_settings();
		$answer   = ( new Relay_Payments_Client( $settings ) )->create_invoice(
			array(
				'order_id'       => (string) $order->get_id(),
				'order_number'   => (string) $order->get_order_number(),
				'order_key'      => (string) $order->get_order_key(),
				'amount'         => wc_format_decimal( $order->get_total(), wc_get_price_decimals() ),
				'currency'       => (string) $order->get_currency(),
				'customer_email' => (string) $order->get_billing_email(),
				'return_url'     => $this->get_return_url( $order ),
			)
		);
		if ( is_wp_error( $answer ) ) {
			Relay_Payments_Callback::log( 'order ' . $order->get_id() . ': the relay opened no invoice: ' . $answer->get_error_code() . ' ' . $answer->get_error_message() );
			if ( 'relay_unreachable' === $answer->get_error_code() ) {
				return $this->fail( __( 'Crypto payment is not available right now: the payment service cannot be reached. Please try again in a few minutes, or choose another payment method.', 'relay-payments' ) );
			}
			/* translators: %s: the payment service's message */
			return $this->fail( sprintf( __( 'Crypto payment could not be started: %s. Please try again, or choose another payment method.', 'relay-payments' ), rtrim( $answer->get_error_message(), '.' ) ) );
		}
		$payment_url = isset( $answer['payment_url'] ) && is_string( $answer['payment_url'] ) ? $answer['payment_url'] : '';
		if ( ! isset( $answer['id'] ) || ! is_string( $answer['id'] ) || 1 !== preg_match( '#^https?://#i', $payment_url ) ) {
			Relay_Payments_Callback::log( 'order ' . $order->get_id() . ': the relay answered an invoice without id or payment_url' );
			return $this->fail( __( 'Crypto payment could not be started: the payment service gave no payment link. Please try again, or choose another payment method.', 'relay-payments' ) );
		}

		if ( Relay_Payments_Orders::remember_invoice( $order, $answer ) ) {
			/* translators: 1: invoice id, 2: payment link */
			$note = sprintf( __( 'Crypto invoice %1$s opened; payment page: %2$s', 'relay-payments' ), $answer['id'], $payment_url );
			if ( $order->has_status( 'failed' ) && isset( $answer['status'] ) && 'new' === $answer['status'] ) {
				$order->update_status( 'pending', $note );
			} else {
				$order->add_order_note( $note );
			}
		}
		return array(
			'result'   => 'success',
			'redirect' => $payment_url,
		);
	}

	/**
	 * Ask the relay for the refund request of the refund WooCommerce is creating; e-mail the customer its link.
	 *
	 * Sends `{"id": <WooCommerce refund id>, "amount", "reason"}`, so a retry of the same refund
	 * opens nothing twice; the answer's `address_url` goes into a customer note, which WooCommerce
	 * e-mails.
	 *
	 * @param int         $order_id The order id.
	 * @param string|null $amount   The refund amount.
	 * @param string      $reason   The refund reason.
	 * @return bool|WP_Error True, or why the refund was not requested (WooCommerce then deletes the refund).
	 */
	public function process_refund( $order_id, $amount = null, $reason = '' ) {
		$order = wc_get_order( $order_id );
		if ( ! $order ) {
			return new WP_Error( 'relay_refund', __( 'This order cannot be found.', 'relay-payments' ) );
		}
		$decimal = wc_format_decimal( (string) $amount, wc_get_price_decimals() );
		if ( null === $amount || '' === $decimal || (float) $decimal <= 0 ) {
			return new WP_Error( 'relay_refund', __( 'Give the amount to refund.', 'relay-payments' ) );
		}
		$refund_id = Relay_Payments_Refunds::refund_id( $order, $decimal );
		if ( ! $refund_id ) {
			return new WP_Error( 'relay_refund', __( 'The refund being created cannot be found, so the relay was not asked.', 'relay-payments' ) );
		}
		$answer = ( new Relay_Payments_Client( $this->current_settings() ) )->create_refund(
			(string) $order->get_id(),
			array(
				'id'     => $refund_id,
				'amount' => $decimal,
				'reason' => (string) $reason,
			)
		);
		if ( is_wp_error( $answer ) ) {
			if ( 'relay_unreachable' === $answer->get_error_code() ) {
				return new WP_Error( 'relay_refund', __( 'The relay cannot be reached; try the refund again later.', 'relay-payments' ) );
			}
			/* translators: %s: the relay's message */
			return new WP_Error( 'relay_refund', sprintf( __( 'The relay refused the refund: %s', 'relay-payments' ), $answer->get_error_message() ) );
		}
		$address_url = isset( $answer['address_url'] ) && is_string( $answer['address_url'] ) ? $answer['address_url'] : '';
		if ( '' === $address_url ) {
			return new WP_Error( 'relay_refund', __( 'The relay answered the refund without a link for the customer.', 'relay-payments' ) );
		}
		$order->add_order_note(
			sprintf(
				/* translators: 1: amount, 2: currency, 3: link */
				__( 'We are refunding %1$s %2$s to you in crypto. Please tell us the address to send it to here: %3$s', 'relay-payments' ),
				$decimal,
				$order->get_currency(),
				$address_url
			),
			1
		);
		return true;
	}

	/**
	 * Whether this screen was asked to test the connection by an authorised click.
	 *
	 * @return bool
	 */
	private function requested_test() {
		if ( ! isset( $_GET[ self::TEST_ACTION ], $_GET['_wpnonce'] ) ) {
			return false;
		}
		$nonce = sanitize_text_field( wp_unslash( $_GET['_wpnonce'] ) );
		return false !== wp_verify_nonce( $nonce, self::TEST_ACTION ) && current_user_can( 'manage_woocommerce' );
	}

	/**
	 * The gateway's settings in Relay_Payments_Settings::load()'s shape.
	 *
	 * @return array<string, string>
	 */
	private function current_settings() {
		$settings = array();
		foreach ( array_keys( Relay_Payments_Settings::defaults() ) as $key ) {
			$value            = $this->get_option( $key );
			$settings[ $key ] = is_string( $value ) ? $value : '';
		}
		return $settings;
	}

	/**
	 * Whether process_payment runs inside a REST request (the Store API of the checkout block).
	 *
	 * @return bool
	 */
	protected function in_rest_request() {
		return defined( 'REST_REQUEST' ) && REST_REQUEST;
	}

	/**
	 * Tell the customer why the payment cannot start.
	 *
	 * @param string $message For the customer.
	 * @return array{result: string}
	 * @throws Exception In a REST request (see process_payment).
	 */
	private function fail( $message ) {
		if ( $this->in_rest_request() ) {
			throw new Exception( $message );
		}
		wc_add_notice( $message, 'error' );
		return array( 'result' => 'failure' );
	}
}
